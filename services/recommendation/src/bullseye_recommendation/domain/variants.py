"""Experiment variants: which strategy a person is served, by a stable hash of the person.

`RECOMMENDATION_VARIANTS` lists the arms with integer weights, `control=1,hybrid=1`. A
request may name its variant; otherwise the person lands in an arm by the platform's
assignment (bullseye_platform.assignment): the same person always gets the same variant, in
every process and after every restart, and no table keeps it. A variant whose name is also
a blend's (domain/blend.py) is served with that blend; any other is a label on the
impressions (e.g. a model comparison made by publishing).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from bullseye_platform.assignment import arm

NAMESPACE = "recommendation/variant"
REMEMBERED = 16_384  # units whose arm is kept (a SHA-256 per call was a tenth of a cached Recommend's own work)


@dataclass(frozen=True)
class Variants:
    arms: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        if not self.arms:
            raise ValueError("at least one variant is needed")
        if any(weight <= 0 for _, weight in self.arms):
            raise ValueError("variant weights must be positive integers")
        if len({name for name, _ in self.arms}) != len(self.arms):
            raise ValueError("variant names must differ")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.arms)

    def assign(self, unit: str) -> str:
        """The variant of `unit` (a person id, or whatever stably names the shopper)."""
        return _arm(self.arms, unit)

    @classmethod
    def from_env(cls, raw: str) -> Variants:
        """`control=1,hybrid=1`.

        Raises:
            ValueError: an entry without a positive integer weight, or a repeated name.
        """
        arms = []
        for entry in (e.strip() for e in raw.split(",") if e.strip()):
            name, sep, weight = entry.partition("=")
            if not sep or not name.strip() or not (weight.strip().isascii() and weight.strip().isdigit()):
                raise ValueError(f"{entry!r}: expected <variant>=<positive integer weight>")
            arms.append((name.strip(), int(weight)))
        return cls(tuple(arms))

    def __repr__(self) -> str:
        return ",".join(f"{name}={weight}" for name, weight in self.arms)


@functools.lru_cache(maxsize=REMEMBERED)
def _arm(arms: tuple[tuple[str, int], ...], unit: str) -> str:
    """The assignment, remembered: it is a pure function of its arguments."""
    return arm(NAMESPACE, unit, arms)
