"""Full membership recompute after a rule changes, and on a durable schedule, as jobs.

CreateSegment / UpdateSegment queue a job row (segment, version) in the transaction that
writes the rule, and the sweep queues one per live segment every `sweep_interval` (profiles
are computed as of now, so time alone moves people in and out: "added to cart in the last
day" ends a day later, with no new event; such exits are up to one interval late). A worker
claims a job with FOR UPDATE SKIP LOCKED, walks every profile in batches and deletes the row
when done, so a crash mid-way leaves the job to be run again (re-running is harmless:
reconcile only records differences). Each batch reloads its
profiles under the exclusive membership lock, so it never overwrites what a concurrent
projection batch decided from newer data. Limits: a job restarts from the first person
after a crash (no progress cursor), and each profile is loaded twice (to list it, then
under the lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg
from bullseye.profile.v1.profile_pb2 import Profile
from bullseye_platform.store.pool import Connection

from bullseye_profile.read import iter_profiles, load_profiles
from bullseye_profile.segments import store
from bullseye_profile.segments.membership import LiveSegment, MembershipKeeper, compiled
from bullseye_profile.segments.rules import RuleError

log = logging.getLogger(__name__)


class RecomputeWorker:
    """Runs queued recompute jobs; `wake()` after queueing one to start it without waiting."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        keeper: MembershipKeeper,
        clock: Callable[[], datetime],
        batch_size: int = 500,
        idle_poll: float = 1.0,
        sweep_interval: float = 900.0,
    ) -> None:
        self._pool, self._keeper, self._clock = pool, keeper, clock
        self._batch_size, self._idle_poll, self._sweep_interval = batch_size, idle_poll, sweep_interval
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Run jobs until `stop`; wakes on `wake()`, polls as a safety net (jobs of other replicas)."""
        while not stop.is_set():
            self._wakeup.clear()
            try:
                await self.sweep_if_due()
                await self.run_pending()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # The job row survives a failed transaction: the next round runs it again.
                log.warning("segment recompute will retry: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._idle_poll)

    async def sweep_if_due(self) -> bool:
        """Queue a recompute of every live segment when the sweep is due; True if it was."""
        async with self._pool.acquire() as conn, conn.transaction():
            now = self._clock()
            due = await conn.fetchval(
                "SELECT 1 FROM segment_sweep_schedule WHERE id = 1 AND next_run_at <= $1 FOR UPDATE SKIP LOCKED", now
            )
            if due is None:
                return False
            await conn.execute(
                "INSERT INTO segment_recompute_jobs (segment_id, version) "
                "SELECT segment_id, version FROM segments WHERE deleted_at IS NULL ON CONFLICT DO NOTHING"
            )
            await conn.execute(
                "UPDATE segment_sweep_schedule SET next_run_at = $1 WHERE id = 1",
                now + timedelta(seconds=self._sweep_interval),
            )
            return True

    async def request_sweep(self) -> None:
        """Make the sweep due now (after a rebuild, or on an operator's request)."""
        await self._pool.execute("UPDATE segment_sweep_schedule SET next_run_at = '-infinity' WHERE id = 1")
        self.wake()

    async def run_pending(self) -> int:
        """Run every job nobody else holds; returns how many were run or dropped."""
        done = 0
        while await self._run_one():
            done += 1
        return done

    async def _run_one(self) -> bool:
        async with self._pool.acquire() as claim, claim.transaction():
            job = await claim.fetchrow(
                "SELECT segment_id, version FROM segment_recompute_jobs ORDER BY queued_at, segment_id "
                "LIMIT 1 FOR UPDATE SKIP LOCKED"
            )
            if job is None:
                return False
            segment_id, version = job["segment_id"], int(job["version"])
            seen = await self._scan(segment_id, version)
            if seen is not None:
                await self._finish(claim, segment_id, version, seen)
                log.info("segment %s v%d recomputed over %d profiles", segment_id, version, len(seen))
            await claim.execute(
                "DELETE FROM segment_recompute_jobs WHERE segment_id = $1 AND version = $2", segment_id, version
            )
            return True

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
