"""The blend: the sequence model's channels plus the taste (EASE) channel, in one linear model.

Both parts are first scaled to unit spread (the standard deviation of their scores over a
sample of people and all items), so the blend weight reads the same on any data: `taste`
is the EASE part's share relative to the sequence part. The taste part sums a whole
history, so it is also divided by the history's mass relative to the median person's,
raised to `mass` (model/linear.py, Channel). Both are chosen on the validation split (each
person's latest item held out) when not given. On MovieLens-1M it chose weight 0.75 and
mass 0.75 (README, Recommendation).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np

from bullseye_recommendation.arrays import FloatArray
from bullseye_recommendation.model.linear import MASS_FLOOR, LinearItemModel
from bullseye_recommendation.training.evaluation import Cases, Metrics, metrics
from bullseye_recommendation.training.interactions import Interactions


@dataclass(frozen=True, kw_only=True)
class BlendSettings:
    taste: float | None = None  # None = chosen on the validation split from `grid`
    taste_rank: int | None = 128  # the taste channel factored at this rank (training/factor.py); None = dense
    grid: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
    mass: float | None = None  # the taste channel's mass exponent; None = chosen with the weight
    mass_grid: tuple[float, ...] = (0.0, 0.5, 0.75, 1.0)
    spread_sample: int = 512  # people whose full score vectors measure a part's spread


@dataclass(frozen=True)
class Choice:
    taste: float
    mass: float
    tried: dict[str, float] = dataclasses.field(default_factory=dict)  # "weight@mass" -> NDCG@10 there


def spread(model: LinearItemModel, data: Interactions, *, sample: int, seed: int = 0) -> float:
    """Standard deviation of every item's score over a sample of people with a history."""
    people = np.flatnonzero(np.diff(data.starts) > 0)
    chosen = np.random.default_rng(seed).choice(people, size=min(sample, len(people)), replace=False)
    scores = [model.scores(data.history(int(p))) for p in chosen]
    value = float(np.std(scores)) if scores else 0.0
    return value if value > 0 else 1.0


def unit(model: LinearItemModel, data: Interactions, *, sample: int) -> LinearItemModel:
    """`model` scaled to unit spread."""
    return model.scaled(1.0 / spread(model, data, sample=sample))


def mass_reference(data: Interactions) -> float:
    """The median history mass (Σ|weight|) of the people with a history: the mass at which
    the taste channel's normalization leaves its scores as they are."""
    masses = np.bincount(data.persons, weights=np.abs(data.weights), minlength=data.n_persons)
    present = masses[masses > 0]
    return float(np.median(present)) if len(present) else 1.0


def combine(sequence: LinearItemModel, taste: LinearItemModel, choice: Choice, reference: float) -> LinearItemModel:
    """Parts already at unit spread: sequence + weight × taste normalized by mass."""
    if choice.taste == 0:
        return sequence
    normalized = (
        dataclasses.replace(c, mass_exponent=choice.mass, mass_reference=reference)
        for c in taste.scaled(choice.taste).channels
    )
    return sequence.joined(LinearItemModel(tuple(normalized)))


def blended(
    sequence: LinearItemModel, taste: LinearItemModel, choice: Choice, data: Interactions, *, sample: int
) -> LinearItemModel:
    """`combine` of both parts scaled to unit spread on `data`."""
    return combine(unit(sequence, data, sample=sample), unit(taste, data, sample=sample), choice, mass_reference(data))


def relative_masses(data: Interactions) -> FloatArray:
    """Per person, the history's mass over `mass_reference`."""
    masses = np.bincount(data.persons, weights=np.abs(data.weights), minlength=data.n_persons)
    return np.asarray(masses / mass_reference(data))


def choose(
    cases: Cases,
    sequence_scores: list[FloatArray],
    taste_scores: list[FloatArray],
    relative_masses: FloatArray,
    settings: BlendSettings,
) -> tuple[Choice, Metrics]:
    """The (weight, mass exponent) pair with the best NDCG@10, and its metrics (ties: the smaller values, the
    simpler model). The scores come from the parts scaled to unit spread; `relative_masses`
    are the cases' history masses over `mass_reference`."""
    weights = (settings.taste,) if settings.taste is not None else settings.grid
    exponents = (settings.mass,) if settings.mass is not None else settings.mass_grid
    tried: dict[tuple[float, float], Metrics] = {}
    for weight, exponent in itertools.product(weights, exponents):
        factors = np.maximum(relative_masses, MASS_FLOOR) ** -exponent
        mixed = [s + weight * f * t for s, t, f in zip(sequence_scores, taste_scores, factors, strict=True)]
        tried[weight, exponent] = metrics(cases, mixed)
    best = max(tried, key=lambda pair: (tried[pair].ndcg_at_10, -pair[0], -pair[1]))
    table = {f"{w:g}@{e:g}": m.ndcg_at_10 for (w, e), m in tried.items()}
    return Choice(taste=best[0], mass=best[1], tried=table), tried[best]
