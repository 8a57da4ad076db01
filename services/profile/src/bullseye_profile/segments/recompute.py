"""Full membership recompute after a rule changes, and on a durable schedule, as platform jobs.

CreateSegment / UpdateSegment schedule a recompute job (key `<segment>@<version>`) in the
transaction that writes the rule, and the sweep job makes one due per live segment every
`sweep_interval` (profiles are computed as of now, so time alone moves people in and out:
"added to cart in the last day" ends a day later, with no new event; such exits are up to one
interval late). The service's JobWorker claims a job with FOR UPDATE SKIP LOCKED; the handler
walks every profile in batches and the row is deleted when it is done, so a crash mid-way
leaves the job to be run again (re-running is harmless: reconcile only records differences).
While a rebuild replays the journal, both wait: its end makes the sweep due. Each batch reloads its
profiles under the exclusive membership lock, so it never overwrites what a concurrent
projection batch decided from newer data. Limits: a job restarts from the first person
after a crash (no progress cursor), and each profile is loaded twice (to list it, then
under the lock).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg
from bullseye.profile.v1.profile_pb2 import Profile
from bullseye_platform import jobs, replay
from bullseye_platform.jobs import Queue
from bullseye_platform.store.pool import Connection

from bullseye_profile.projections.resolved import NAME as PROJECTION
from bullseye_profile.reading.load import iter_profiles, load_profiles
from bullseye_profile.segments import store
from bullseye_profile.segments.membership import LiveSegment, MembershipKeeper, compiled
from bullseye_profile.segments.rules import RuleError

log = logging.getLogger(__name__)


RECOMPUTE, SWEEP = "segment-recompute", "segment-sweep"  # job queues (migration 0400)
SWEEP_KEY = "scheduled"


def job_key(segment_id: str, version: int) -> str:
    """The recompute job of one rule version (segment ids never contain '@')."""
    return f"{segment_id}@{version}"


async def queue_recompute(conn: Connection, segment_id: str, version: int, now: datetime) -> None:
    """A durable job to recompute every profile's membership under `version`, in the caller's
    transaction: the one that wrote the rule."""
    await jobs.schedule(conn, queue=RECOMPUTE, key=job_key(segment_id, version), due_at=now)


class RecomputeWorker:
    """The handlers of the recompute and sweep job queues (run by the service's JobWorker)."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        keeper: MembershipKeeper,
        clock: Callable[[], datetime],
        batch_size: int = 500,
        sweep_interval: float = 900.0,
    ) -> None:
        self._pool, self._keeper, self._clock = pool, keeper, clock
        self._batch_size, self._sweep_interval = batch_size, timedelta(seconds=sweep_interval)
        self.queues = (Queue(RECOMPUTE, self._recompute), Queue(SWEEP, self._sweep))

    async def _sweep(self, conn: Connection, job: jobs.Job) -> datetime:
        """Make a recompute of every live segment due (the ones queued already, too)."""
        now = self._clock()
        if not await replay.pending(conn, PROJECTION):  # the replay's end makes a sweep due
            for segment_id, version, _ in await store.live_rules(conn):
                await jobs.set_due(conn, queue=RECOMPUTE, key=job_key(segment_id, version), due_at=now)
        return now + self._sweep_interval

    async def _recompute(self, conn: Connection, job: jobs.Job) -> datetime | None:
        """Reconcile every profile under one rule version; None (done) also when the version was
        superseded or deleted meanwhile. Waits (a minute) while a rebuild replays the journal."""
        if await replay.pending(conn, PROJECTION):
            return self._clock() + timedelta(minutes=1)
        segment_id, _, version = job.key.rpartition("@")
        seen = await self._scan(segment_id, int(version))
        if seen is not None:
            await self._finish(conn, segment_id, int(version), seen)
            log.info("segment %s v%s recomputed over %d profiles", segment_id, version, len(seen))
        return None

    async def _barrier(self) -> None:
        """Wait until every projection batch that may have judged with an older rule has committed.

        A batch reads the live rules under the shared lock and holds it to its commit. One that
        read them before this version was committed can still be writing profiles the scan
        cannot see yet; taking the lock exclusively once waits it out. Batches after that see
        this version themselves.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            await store.lock_exclusive(conn)

    async def _scan(self, segment_id: str, version: int) -> set[str] | None:
        """Reconcile every profile; None when the version was superseded or deleted meanwhile."""
        await self._barrier()
        seen: set[str] = set()
        batch: list[str] = []
        async with self._pool.acquire() as reader:
            profiles = iter_profiles(reader, self._clock(), self._batch_size, policy=self._keeper.policy)
            async for profile in profiles:
                batch.append(profile.person_id)
                if len(batch) >= self._batch_size:
                    if not await self._apply(segment_id, version, batch):
                        return None
                    seen.update(batch)
                    batch = []
        if batch and not await self._apply(segment_id, version, batch):
            return None
        return seen | set(batch)

    async def _apply(self, segment_id: str, version: int, persons: list[str]) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            await store.lock_exclusive(conn)
            segment = await _current(conn, segment_id, version)
            if segment is None:
                return False
            now = self._clock()
            profiles = await load_profiles(conn, persons, now, policy=self._keeper.policy)
            await self._keeper.reconcile(conn, [segment], persons, profiles, now)
            return True

    async def _finish(self, claim: Connection, segment_id: str, version: int, seen: set[str]) -> None:
        """Members the scan did not meet (their profile is gone) are re-decided; then the version is ready."""
        await store.lock_exclusive(claim)
        segment = await _current(claim, segment_id, version)
        if segment is None:
            return
        now = self._clock()
        rest = [p for p in await store.open_members(claim, segment_id) if p not in seen]
        profiles: dict[str, Profile] = await load_profiles(claim, rest, now, policy=self._keeper.policy)
        await self._keeper.reconcile(claim, [segment], rest, profiles, now)
        await claim.execute(
            "UPDATE segments SET computed_version = $2 WHERE segment_id = $1 AND version = $2", segment_id, version
        )


async def _current(conn: Connection, segment_id: str, version: int) -> LiveSegment | None:
    """The segment at `version`, if that is still its live version."""
    row = await conn.fetchrow(
        "SELECT rule FROM segments WHERE segment_id = $1 AND version = $2 AND deleted_at IS NULL", segment_id, version
    )
    if row is None:
        return None
    try:
        return LiveSegment(segment_id, version, compiled(bytes(row["rule"])))
    except RuleError as exc:
        log.error("segment %s v%d is not recomputed: its rule no longer compiles: %s", segment_id, version, exc)
        return None
