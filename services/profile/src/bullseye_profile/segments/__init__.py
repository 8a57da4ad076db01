"""Segments: typed rules over profiles, membership intervals kept current, facts of both.

`Segments.build` wires the parts once (in bootstrap): `keeper.refresh` is what the profile
projection calls at the end of each live batch, `recompute.queues` are run by the service's
job worker, `definitions` writes the definition facts, and the segment RPCs
(api/segment_rpcs.py) use all of it.

A projection rebuild leaves the segment tables alone: memberships carry history
(point-in-time answers) and have been announced; re-deriving them during a replay would
re-announce entries that campaigns acted on. The replay folds quietly, then one sweep
reconciles: only real differences become facts. Should the tables themselves be lost, they
are restored from their facts on PROFILE (projections/segment_facts.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from bullseye_profile.domain.policy import DEFAULT_POLICY, ProfilePolicy
from bullseye_profile.projections.resolved import FoldedThrough
from bullseye_profile.segments.definitions import DefinitionFacts
from bullseye_profile.segments.membership import MembershipKeeper
from bullseye_profile.segments.recompute import RecomputeWorker


@dataclass(frozen=True)
class Segments:
    keeper: MembershipKeeper
    recompute: RecomputeWorker
    definitions: DefinitionFacts
    clock: Callable[[], datetime]

    @classmethod
    def build(
        cls,
        *,
        pool: asyncpg.Pool,
        clock: Callable[[], datetime],
        subject_prefix: str,
        partitions: int,
        folded: FoldedThrough,
        policy: ProfilePolicy = DEFAULT_POLICY,
        batch_size: int = 500,
        sweep_interval: float = 900.0,
    ) -> Segments:
        """Args:
        subject_prefix, partitions: of the PROFILE stream the facts go to.
        folded: where the fold of RESOLVED stands, the cause a change no record made names.
        batch_size: profiles per transaction of a full recompute.
        sweep_interval: seconds between recomputes of every segment (time-driven exits).
        """
        keeper = MembershipKeeper(subject_prefix=subject_prefix, partitions=partitions, folded=folded, policy=policy)
        worker = RecomputeWorker(
            pool=pool, keeper=keeper, clock=clock, batch_size=batch_size, sweep_interval=sweep_interval
        )
        definitions = DefinitionFacts(subject_prefix=subject_prefix, partitions=partitions)
        return cls(keeper=keeper, recompute=worker, definitions=definitions, clock=clock)
