"""Who gets what: the arm (a variant or the control) and the rollout stage, from a stable hash.

Both are read from a hash of (campaign, person) mapped to [0, 1), so every process and every
replay gives the same answer and a person's arm never changes. The arm and the rollout use
two independent hashes (different salts): a 5% stage is then a random 5% of every arm, and
widening the stage only adds people, each keeping the arm they would always have had.

The hash itself is the platform's (`bullseye_platform.assignment.Sha256Hash`, reproducible in
SQL or any language from its documented algorithm), given by the composition root; this module
needs only `StableHash`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

CONTROL = "control"
ARM_SALT, ROLLOUT_SALT = "arm", "rollout"


class StableHash(Protocol):
    def unit(self, *parts: str) -> float:
        """A number in [0, 1), uniform over inputs and the same for the same parts forever."""
        ...


@dataclass(frozen=True)
class Arm:
    variant_id: str
    weight: int  # percent of the messaged audience


def arm_for(unit: float, arms: Sequence[Arm], *, holdout_percent: int) -> str:
    """The arm at `unit`: the first `holdout_percent` of [0, 1) is the control, the rest is
    split among the variants by weight, in definition order."""
    holdout = holdout_percent / 100
    if unit < holdout:
        return CONTROL
    position = (unit - holdout) / (1 - holdout) * sum(a.weight for a in arms)
    for arm in arms:
        if position < arm.weight:
            return arm.variant_id
        position -= arm.weight
    return arms[-1].variant_id  # float rounding at the very top of [0, 1)


def in_rollout(unit: float, percent: int) -> bool:
    """Whether a person whose rollout hash is `unit` is exposed at a `percent` stage."""
    return unit < percent / 100


def assign(hasher: StableHash, campaign_id: str, person_id: str, arms: Sequence[Arm], *, holdout_percent: int) -> str:
    return arm_for(hasher.unit(campaign_id, person_id, ARM_SALT), arms, holdout_percent=holdout_percent)


def exposed(hasher: StableHash, campaign_id: str, person_id: str, *, percent: int) -> bool:
    return in_rollout(hasher.unit(campaign_id, person_id, ROLLOUT_SALT), percent)
