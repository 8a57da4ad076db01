"""Segments: typed rules over profiles, membership intervals kept current, entry/exit facts.

`Segments.build` wires the parts once (in bootstrap): `keeper.refresh` is what the profile
projection calls at the end of each batch, `recompute.run` is a worker of the server, and
the segment RPCs (api/segment_rpcs.py) use all of it.

A projection rebuild should leave the segment tables alone: definitions come from RPCs, not
from the log, and memberships carry history (point-in-time answers) and have already been
announced; re-deriving them during a replay would re-announce entries that campaigns act
on. Replay without refreshing, then let a sweep (`recompute.request_sweep`) reconcile: only
real differences become facts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from bullseye_profile.domain.policy import DEFAULT_POLICY, ProfilePolicy
from bullseye_profile.segments.membership import MembershipKeeper
from bullseye_profile.segments.recompute import RecomputeWorker


@dataclass(frozen=True)
class Segments:
    keeper: MembershipKeeper
    recompute: RecomputeWorker
    clock: Callable[[], datetime]

    @classmethod
    def build(
        cls,
        *,
        pool: asyncpg.Pool,
        clock: Callable[[], datetime],
        subject_prefix: str,
        partitions: int,
        policy: ProfilePolicy = DEFAULT_POLICY,
        batch_size: int = 500,
        sweep_interval: float = 900.0,
    ) -> Segments:
        """Args:
        subject_prefix, partitions: of the PROFILE stream the facts go to.
        batch_size: profiles per transaction of a full recompute.
        sweep_interval: seconds between recomputes of every segment (time-driven exits).
        """
        keeper = MembershipKeeper(subject_prefix=subject_prefix, partitions=partitions, policy=policy)
        worker = RecomputeWorker(
            pool=pool, keeper=keeper, clock=clock, batch_size=batch_size, sweep_interval=sweep_interval
        )
        return cls(keeper=keeper, recompute=worker, clock=clock)
