"""The served model: linear item-to-item channels, each with its own recency kernel.

    score(history)[n] = Σ_c Σ_{j < horizon_c} weight_j · decay_c ** age_j · matrix_c[item_j, n]

One channel per way of reading a history: the sequence model's short and medium memory
(decays 0.5 and 0.9: the last few items decide what comes next) and the taste channel
(EASE, decay 1: everything the person ever liked counts alike). Every model family the
trainer builds is such a set of channels, so one ONNX graph (`graph.py`) serves them all and
the blend of families is just more channels, each scaled by its blend weight at training.

A decaying channel reads only the first `horizon` entries of a history (most recent
first): past them its kernel is below 10⁻⁷ of the latest item's (ages are ranks or
larger), under float32's resolution of the sum, and a call gathers fewer rows.

The numpy scoring here is the reference the ONNX graph must equal (to 1e-5, tested). A
served model keeps its matrices in float16 (`served`): half the memory, and half the bytes
each call gathers, which is what a call's time is made of; the rounding (2⁻¹¹ relative)
moved HR@10 and NDCG@10 on MovieLens-1M by less than 0.0001 (README, Recommendation).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from bullseye_recommendation.arrays import FloatArray, IntArray, Table
from bullseye_recommendation.domain.history import History

SERVED = np.float16
NEGLIGIBLE = 1e-7
MASS_FLOOR = 1e-6  # an empty history has no mass; its coefficients are empty anyway


@dataclass(frozen=True, eq=False)
class Channel:
    """What each item seen in this channel adds to every item's score: `rows[i]`, or
    `rows[i] @ basis` for a factored channel (rows [items, rank], basis [rank, items]),
    whose call cost no longer grows with the catalogue times the history.

    With a `mass_exponent`, the coefficients are divided by (Σ|weight| / `mass_reference`)
    ** exponent: a channel that sums a whole history would otherwise speak louder the longer
    the history, and drown the others for the heaviest shoppers."""

    name: str
    decay: float
    rows: Table
    basis: Table | None = None
    mass_exponent: float = 0.0
    mass_reference: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.decay <= 1:
            raise ValueError(f"channel {self.name}: decay must lie in [0, 1]")
        width = self.rows.shape[0] if self.basis is None else self.basis.shape[0]
        items = self.rows.shape[0] if self.basis is None else self.basis.shape[1]
        if self.rows.ndim != 2 or self.rows.shape != (items, width):
            raise ValueError(f"channel {self.name}: rows must be [items, items], or [items, rank] with a basis")

    @property
    def n_items(self) -> int:
        return int(self.rows.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes) + (int(self.basis.nbytes) if self.basis is not None else 0)

    @property
    def horizon(self) -> int | None:
        """How many of the most recent entries this channel reads (None: all of them)."""
        if self.decay >= 1:
            return None
        if self.decay == 0:
            return 1
        return math.ceil(math.log(NEGLIGIBLE) / math.log(self.decay))

    def coefficients(self, history: History) -> FloatArray:
        """weight × decay ** age for the entries within the horizon, as the graph computes it
        (with the decay rounded to float32, as the graph holds it)."""
        seen = history.latest(self.horizon) if self.horizon is not None else history
        decay = np.float64(np.float32(self.decay))
        kernel = np.asarray(seen.weights, dtype=np.float64) * decay ** seen.ages.astype(np.float64)
        return kernel * self.mass_factor(history) if self.mass_exponent else kernel

    def mass_factor(self, history: History) -> float:
        mass = float(np.abs(history.weights.astype(np.float64)).sum()) / self.mass_reference
        return float(max(mass, MASS_FLOOR) ** -self.mass_exponent)

    def scores(self, history: History, candidates: IntArray | None = None) -> FloatArray:
        """This channel's part of the scores of `candidates` (None: of every item)."""
        coefficients = self.coefficients(history)
        items = history.items[: len(coefficients)]
        if self.basis is None:
            block = self.rows[items] if candidates is None else self.rows[np.ix_(items, candidates)]
            return np.asarray(coefficients @ block.astype(np.float64))
        basis = self.basis if candidates is None else self.basis[:, candidates]
        return np.asarray((coefficients @ self.rows[items].astype(np.float64)) @ basis.astype(np.float64))

    def with_rows(self, rows: Table) -> Channel:
        return dataclasses.replace(self, rows=rows)


@dataclass(frozen=True, eq=False)
class LinearItemModel:
    channels: tuple[Channel, ...]

    def __post_init__(self) -> None:
        if not self.channels or len({c.n_items for c in self.channels}) != 1:
            raise ValueError("a model needs at least one channel, all over the same items")

    @classmethod
    def of(cls, *channels: tuple[str, float, Table]) -> LinearItemModel:
        """From (name, decay, [items, items] matrix) per channel, each already scaled."""
        return cls(tuple(Channel(name, decay, np.asarray(m, dtype=np.float32)) for name, decay, m in channels))

    @property
    def n_items(self) -> int:
        return self.channels[0].n_items

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.channels)

    def scores(self, history: History) -> FloatArray:
        """Every item's score for this history (float64 accumulation: the reference)."""
        return np.asarray(sum((c.scores(history) for c in self.channels), np.zeros(self.n_items)))

    def candidate_scores(self, history: History, candidates: IntArray) -> FloatArray:
        """The scores of `candidates` only: cheap enough to evaluate thousands of people."""
        return np.asarray(sum((c.scores(history, candidates) for c in self.channels), np.zeros(len(candidates))))

    def served(self) -> LinearItemModel:
        """The same model with its gathered rows rounded to the served precision (a factored
        channel's small basis stays float32: casting it on every call would cost more)."""
        return LinearItemModel(tuple(c.with_rows(c.rows.astype(SERVED)) for c in self.channels))

    def scaled(self, factor: float) -> LinearItemModel:
        return LinearItemModel(
            tuple(c.with_rows(c.rows.astype(np.float32) * np.float32(factor)) for c in self.channels)
        )

    def joined(self, other: LinearItemModel) -> LinearItemModel:
        """Both models' channels side by side: their scores add."""
        return LinearItemModel(self.channels + other.channels)
