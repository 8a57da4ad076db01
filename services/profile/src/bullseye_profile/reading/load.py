"""Profiles as messages: the one place that turns the tables into bullseye.profile.v1.Profile.

A profile is folded from the person's journal at read time, as of a given time: rolling
windows are counted from event times (no timer ever moves a counter), affinities decay
from event ages, and traits and consent are the latest statements. Segment evaluation,
estimates and BatchGetProfiles read profiles through `load_profiles` / `iter_profiles`;
GetProfile reads a stored base finished to the time asked for, the same result in one
round trip (bases.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from bullseye.profile.v1 import profile_pb2 as pb
from bullseye_platform.store.pool import Connection

from bullseye_profile.domain.policy import DEFAULT_POLICY, ProfilePolicy
from bullseye_profile.reading.fold import build_profile
from bullseye_profile.reading.queries import fetch_all


async def load_profiles(
    conn: Connection, person_ids: Sequence[str], now: datetime, *, policy: ProfilePolicy = DEFAULT_POLICY
) -> dict[str, pb.Profile]:
    """The profiles of `person_ids` as of `now`; persons without any event up to `now` are absent.

    Ids are taken literally (a merged person's id has no profile of its own).
    """
    ids = sorted(set(person_ids))
    if not ids:
        return {}
    readings = await fetch_all(conn, ids, now, policy)
    return {pid: build_profile(pid, readings, now, policy) for pid in ids if pid in readings.types}


async def iter_profiles(
    conn: Connection, now: datetime, batch: int = 1000, *, policy: ProfilePolicy = DEFAULT_POLICY
) -> AsyncIterator[pb.Profile]:
    """Every profile as of `now`, in person_id order, loaded `batch` persons at a time."""
    after = ""
    while True:
        rows = await conn.fetch(
            "SELECT DISTINCT person_id FROM journal WHERE person_id > $1 AND occurred_at <= $2 "
            "ORDER BY person_id LIMIT $3",
            after,
            now,
            batch,
        )
        if not rows:
            return
        ids = [r["person_id"] for r in rows]
        profiles = await load_profiles(conn, ids, now, policy=policy)
        for pid in ids:
            if pid in profiles:
                yield profiles[pid]
        after = ids[-1]
