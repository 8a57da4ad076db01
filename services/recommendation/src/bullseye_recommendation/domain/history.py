"""A person's current history, the one input every served score starts from.

The model keeps no per-person state (no user embedding table): it scores from the history
given with the request, so what a person did a second ago counts before the next retrain
(fold-in by construction). A history lists item indices most recent first, each with its
*age* (0 = the most recent; the trainer uses the rank in the person's order, so a caller
passes ranks too) and its *weight* (net feedback strength; a negative weight pushes the
items like it down).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bullseye_recommendation.arrays import Float32Array, IntArray


@dataclass(frozen=True, eq=False)
class History:
    """Parallel arrays, most recent first; build with `History.of`."""

    items: IntArray
    ages: Float32Array
    weights: Float32Array

    @classmethod
    def of(
        cls,
        items: Sequence[int] | IntArray,
        *,
        weights: Sequence[float] | NDArray[np.floating] | None = None,
        ages: Sequence[float] | NDArray[np.floating] | None = None,
    ) -> History:
        """Items most recent first; ages default to the rank (0, 1, 2, ...), weights to 1.

        Raises:
            ValueError: the arrays differ in length, or an age is negative.
        """
        items_ = np.asarray(items, dtype=np.int64).reshape(-1)
        n = len(items_)
        ages_ = np.arange(n, dtype=np.float32) if ages is None else np.asarray(ages, dtype=np.float32)
        weights_ = np.ones(n, dtype=np.float32) if weights is None else np.asarray(weights, dtype=np.float32)
        if not len(ages_) == len(weights_) == n:
            raise ValueError("a history needs one age and one weight per item")
        if n and ages_.min() < 0:
            raise ValueError("ages count back from the most recent item and cannot be negative")
        return cls(items=items_, ages=ages_, weights=weights_)

    def __len__(self) -> int:
        return len(self.items)

    def latest(self, count: int) -> History:
        """The `count` most recent entries (a service caps how much history a call sends)."""
        return History(items=self.items[:count], ages=self.ages[:count], weights=self.weights[:count])


@dataclass(frozen=True, eq=False)
class HistoryBatch:
    """Histories padded to one length for a batched call; padding has weight 0 and adds nothing."""

    items: IntArray
    ages: Float32Array
    weights: Float32Array

    @classmethod
    def of(cls, histories: Sequence[History]) -> HistoryBatch:
        width = max((len(h) for h in histories), default=0)
        shape = (len(histories), width)
        items, ages, weights = np.zeros(shape, np.int64), np.zeros(shape, np.float32), np.zeros(shape, np.float32)
        for row, history in enumerate(histories):
            n = len(history)
            items[row, :n], ages[row, :n], weights[row, :n] = history.items, history.ages, history.weights
        return cls(items=items, ages=ages, weights=weights)

    def __len__(self) -> int:
        return len(self.items)
