"""Seeded randomness: every run with the same seed draws the same shoppers, ids and choices."""

from __future__ import annotations

import random
import uuid


def rng_for(seed: int, *scope: object) -> random.Random:
    """An independent generator per (seed, scope), so one shopper's draws never shift another's.

    String seeds are hashed with SHA-512 by `random`, so this does not depend on PYTHONHASHSEED.
    """
    return random.Random(":".join(str(part) for part in (seed, *scope)))


def uuid_from(rng: random.Random) -> str:
    """A version-4-shaped UUID drawn from `rng`: deterministic, yet unique for practical purposes."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def geometric(rng: random.Random, mean: float, *, minimum: int = 0, maximum: int = 1_000) -> int:
    """A count with a long tail (sessions per shopper, pages per visit) and the given mean above `minimum`."""
    if mean <= 0:
        return minimum
    p = 1.0 / (1.0 + mean)
    count = minimum
    while rng.random() > p and count < maximum:
        count += 1
    return count
