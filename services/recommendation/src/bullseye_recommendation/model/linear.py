"""The served model: linear item-to-item channels, each with its own recency kernel.

    score(history)[n] = Σ_c Σ_j weight_j · decay_c ** age_j · rows[item_j, c, n]

One channel per way of reading a history: the sequence model's short and medium memory
(decays 0.5 and 0.9: the last few items decide what comes next) and the taste channel
(EASE, decay 1: everything the person ever liked counts alike). Every model family the
trainer builds is such a set of channels, so one ONNX graph (`graph.py`) serves them all and
the blend of families is just more channels, each scaled by its blend weight at training.

The numpy scoring here is the reference the ONNX graph must equal (to 1e-5, tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bullseye_recommendation.arrays import Float32Array, FloatArray, IntArray
from bullseye_recommendation.domain.history import History


@dataclass(frozen=True, eq=False)
class LinearItemModel:
    """`rows[i, c]` is what item i, seen in channel c, adds to every item's score."""

    names: tuple[str, ...]
    decays: Float32Array
    rows: Float32Array

    def __post_init__(self) -> None:
        n_items, n_channels, width = self.rows.shape
        if not (width == n_items and n_channels == len(self.decays) == len(self.names)):
            raise ValueError("rows must be [items, channels, items] with one decay and one name per channel")
        if np.any(self.decays < 0) or np.any(self.decays > 1):
            raise ValueError("channel decays must lie in [0, 1]")

    @classmethod
    def of(cls, channels: list[tuple[str, float, NDArray[np.floating]]]) -> LinearItemModel:
        """From (name, decay, [items, items] matrix) per channel, each already scaled."""
        rows = np.stack([np.asarray(m, dtype=np.float32) for _, _, m in channels], axis=1)
        decays = np.array([d for _, d, _ in channels], dtype=np.float32)
        return cls(names=tuple(n for n, _, _ in channels), decays=decays, rows=rows)

    @property
    def n_items(self) -> int:
        return int(self.rows.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.rows.nbytes)

    def coefficients(self, history: History) -> FloatArray:
        """[items of the history, channels]: weight × decay ** age, as the graph computes it."""
        decays = self.decays.astype(np.float64)[None, :]
        return history.weights.astype(np.float64)[:, None] * decays ** history.ages.astype(np.float64)[:, None]

    def scores(self, history: History) -> FloatArray:
        """Every item's score for this history (float64 accumulation: the reference)."""
        if not len(history):
            return np.zeros(self.n_items)
        gathered = self.rows[history.items].astype(np.float64)
        return np.asarray(np.einsum("lc,lcn->n", self.coefficients(history), gathered), dtype=np.float64)

    def candidate_scores(self, history: History, candidates: IntArray) -> FloatArray:
        """The scores of `candidates` only: cheap enough to evaluate thousands of people."""
        if not len(history):
            return np.zeros(len(candidates))
        channels = np.arange(len(self.decays))
        block = self.rows[np.ix_(history.items, channels, candidates)].astype(np.float64)
        return np.asarray(np.einsum("lc,lcn->n", self.coefficients(history), block), dtype=np.float64)

    def scaled(self, factor: float) -> LinearItemModel:
        return LinearItemModel(names=self.names, decays=self.decays, rows=self.rows * np.float32(factor))

    def joined(self, other: LinearItemModel) -> LinearItemModel:
        """Both models' channels side by side: their scores add."""
        return LinearItemModel(
            names=self.names + other.names,
            decays=np.concatenate([self.decays, other.decays]),
            rows=np.concatenate([self.rows, other.rows], axis=1),
        )
