"""One ranking from the parts' scores: the blend, each item's reason, the top k.

Every part scores the same pool of items (the catalog, or the candidates a caller gave). A
blend of one part ranks by that part's own scores times its weight: the model alone gives
exactly the model's scores (what the ONNX-equals-trainer test reads). A blend of several
puts each part on one scale first (its z-score over the pool: a part whose scores are all
equal says nothing and counts 0) and adds them with their weights. An item's reason is the
part that lifted it most (the largest weighted contribution); an item no part lifted is
there for its popularity. Ties rank the lower pool position first, so an answer is stable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bullseye_recommendation.arrays import FloatArray, IntArray
from bullseye_recommendation.domain.blend import Blend, Part


@dataclass(frozen=True, eq=False)
class Ranked:
    """Pool positions best first, with their blended scores and the part behind each."""

    positions: IntArray
    scores: FloatArray
    reasons: tuple[Part, ...]


def standardized(values: FloatArray) -> FloatArray:
    """(values − mean) / standard deviation; zeros when every value is the same."""
    spread = float(values.std()) if len(values) else 0.0
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def contributions(parts: Mapping[Part, FloatArray], blend: Blend) -> dict[Part, FloatArray]:
    """Each weighted part's share of the blended score, on the scale the blend adds them."""
    weighted = {part: values for part, values in parts.items() if blend.weight(part) > 0}
    if not blend.mixed:
        return {part: blend.weight(part) * values for part, values in weighted.items()}
    return {part: blend.weight(part) * standardized(values) for part, values in weighted.items()}


def rank(parts: Mapping[Part, FloatArray], blend: Blend, k: int, size: int) -> Ranked:
    """The `k` best of a pool of `size` items (fewer when the pool is smaller).

    Raises:
        ValueError: no part the blend weighs has scores.
    """
    shares = contributions(parts, blend)
    if not shares:
        raise ValueError("none of the blend's parts was scored")
    order = list(shares)
    stacked = np.vstack([shares[part] for part in order])
    total = stacked.sum(axis=0)
    best = _best(total, min(k, size))
    top_part = stacked[:, best].argmax(axis=0)
    lifted = stacked[top_part, best] > 0
    reasons = tuple(order[p] if up else Part.POPULAR for p, up in zip(top_part, lifted, strict=True))
    return Ranked(positions=best.astype(np.int64), scores=total[best], reasons=reasons)


def _best(total: FloatArray, count: int) -> IntArray:
    """Positions of the `count` highest totals, score descending then position ascending;
    a partition first, so a call sorts only what can make the top (and its ties)."""
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    chosen = np.arange(len(total))
    if count < len(total):
        kth = np.partition(total, len(total) - count)[len(total) - count]
        chosen = np.flatnonzero(total >= kth)
    ordered: IntArray = chosen[np.lexsort((chosen, -total[chosen]))][:count]
    return ordered
