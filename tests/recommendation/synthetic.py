"""Small generated data with a planted order: most steps go from an item to its successor.

An order-blind model cannot tell an item's successor from its predecessor (both co-occur
with it equally); a model that reads the order can. Deterministic for a seed.
"""

from __future__ import annotations

import numpy as np
from bullseye_recommendation.training.interactions import Interactions

ITEMS = 60
PERSONS = 400


def successor(item: int) -> int:
    return (item * 7 + 3) % ITEMS  # a permutation of 0..ITEMS-1 (7 is coprime with 60)


def walks(*, persons: int = PERSONS, follow: float = 0.85, seed: int = 7) -> Interactions:
    """Each person walks 6-16 steps, following `successor` with probability `follow`."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, int, int]] = []
    for person in range(persons):
        item = int(rng.integers(ITEMS))
        for step in range(int(rng.integers(6, 17))):
            rows.append((person, item, step))
            item = successor(item) if rng.random() < follow else int(rng.integers(ITEMS))
    p, i, o = (np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))
    return Interactions.of(p, i, o, n_persons=persons, n_items=ITEMS)
