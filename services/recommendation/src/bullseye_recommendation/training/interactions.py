"""What the trainer learns from: every person's items, in the order the person met them.

The order matters: the next thing a person wants is best predicted by what they touched
last (see `sequence.py`), so an `Interactions` is kept sorted by (person, order) and the
rows of one person are contiguous. A row's weight is the net strength of the feedback
(view < wishlist < cart < purchase, refunds subtracted, see `feedback.py`); rows whose net
weight is not positive are dropped at construction: a refunded item is neither a signal of
taste nor a thing to learn to predict.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from bullseye_recommendation.arrays import FloatArray, IntArray
from bullseye_recommendation.domain.history import History


@dataclass(frozen=True, eq=False)
class Interactions:
    """Rows sorted by (person, order); build with `Interactions.of`."""

    persons: IntArray
    items: IntArray
    weights: FloatArray
    n_persons: int
    n_items: int

    @classmethod
    def of(
        cls,
        persons: IntArray,
        items: IntArray,
        order: IntArray,
        *,
        n_persons: int,
        n_items: int,
        weights: FloatArray | None = None,
    ) -> Interactions:
        """Sort by (person, order) and drop non-positive weights.

        Raises:
            ValueError: arrays of different lengths or an index outside its range.
        """
        weights = np.ones(len(items)) if weights is None else np.asarray(weights, dtype=np.float64)
        if not len(persons) == len(items) == len(order) == len(weights):
            raise ValueError("persons, items, order and weights must have one entry per interaction")
        _check_range("person", persons, n_persons)
        _check_range("item", items, n_items)
        keep = weights > 0
        rows = np.lexsort((order[keep], persons[keep]))
        return cls(
            persons=np.asarray(persons[keep][rows], dtype=np.int64),
            items=np.asarray(items[keep][rows], dtype=np.int64),
            weights=weights[keep][rows],
            n_persons=n_persons,
            n_items=n_items,
        )

    def __len__(self) -> int:
        return len(self.items)

    @cached_property
    def starts(self) -> IntArray:
        """starts[p]:starts[p + 1] are person p's rows."""
        return np.searchsorted(self.persons, np.arange(self.n_persons + 1)).astype(np.int64)

    @cached_property
    def ages(self) -> IntArray:
        """Per row, how many of the person's rows came after it (0 = the most recent)."""
        last = self.starts[self.persons + 1] - 1
        return last - np.arange(len(self), dtype=np.int64)

    def history(self, person: int) -> History:
        """One person's history as the model reads it: most recent first, ages = ranks."""
        rows = slice(self.starts[person], self.starts[person + 1])
        return History.of(self.items[rows][::-1], weights=self.weights[rows][::-1])

    def without_last(self) -> tuple[Interactions, IntArray]:
        """Leave-one-out: these interactions less each person's latest, and that item per
        person (-1 where a person has fewer than two rows and so nothing left to learn from)."""
        counts = np.diff(self.starts)
        held = (self.ages == 0) & (counts[self.persons] >= 2)
        targets = np.full(self.n_persons, -1, dtype=np.int64)
        targets[self.persons[held]] = self.items[held]
        rest = ~held
        kept = Interactions(
            persons=self.persons[rest],
            items=self.items[rest],
            weights=self.weights[rest],
            n_persons=self.n_persons,
            n_items=self.n_items,
        )
        return kept, targets


def _check_range(what: str, values: IntArray, size: int) -> None:
    if len(values) and (values.min() < 0 or values.max() >= size):
        raise ValueError(f"{what} index outside 0..{size - 1}")
