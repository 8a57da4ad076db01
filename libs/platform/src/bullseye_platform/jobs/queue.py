"""Durable scheduled jobs: rows in `scheduled_jobs`, due at a time, run at least once.

A job is a row keyed by (queue, key) with a due time and a payload. Scheduling one is an
INSERT in the caller's transaction, so a job exists exactly when the change that asked for
it committed; the same key twice is one job, which is how a cause schedules its timer once
("24 h after order o-1": key `o-1`). A worker claims due rows with `FOR UPDATE SKIP LOCKED`
(workers of every process share the table and never run one job twice at once) and runs the
queue's handler in the claim's transaction: the row is deleted, or moved to the handler's
next due time, in the very transaction that did the work. A queue whose jobs are cheaper done
together (campaign's sends: one query per batch, not per message) gives a batch handler, which
runs every claimed job at once and says per job when to run it again. A worker that dies mid-job leaves
the row to be claimed again: handlers are idempotent. A handler that fails has its row moved
to a growing delay (`Backoff`), its error and attempts kept on the row.

Committing a new or moved row notifies `bullseye_jobs:<schema>` with the queue's name
(migration 0004), which wakes that queue's lane in every worker; the lane also wakes at the
next due time it knows of and polls as a safety net (wake.py). Sized for campaign timers:
claiming reads the `(queue, due_at)` index from its oldest entry, a lane claims `batch_size`
rows per transaction, and each runs in its own savepoint so one failure spares the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from time import perf_counter

import asyncpg

from bullseye_platform.instruments.jobs import JobInstruments
from bullseye_platform.jobs.wake import DEFAULT_BACKOFF, Backoff, Pass, WakeLoop, listening
from bullseye_platform.store.pool import TRANSIENT, Connection

log = logging.getLogger(__name__)
CHANNEL_PREFIX = "bullseye_jobs:"  # + the schema: what migration 0004's triggers notify

_CLAIM = """
SELECT queue, key, due_at, payload, attempts FROM scheduled_jobs
WHERE queue = $1 AND due_at <= $2 ORDER BY due_at, key LIMIT $3 FOR UPDATE SKIP LOCKED
"""


@dataclass(frozen=True)
class Job:
    queue: str
    key: str
    due_at: datetime
    payload: bytes
    attempts: int  # failed runs so far


# Does the job in the claim's transaction; returns when to run it again, or None when done.
Handler = Callable[[Connection, Job], Awaitable[datetime | None]]
# Does every claimed job at once in the claim's transaction; returns, per job key, when to run
# it again (None, or a key left out: done).
BatchHandler = Callable[[Connection, Sequence[Job]], Awaitable[Mapping[str, datetime | None]]]


@dataclass(frozen=True)
class Queue:
    """A named queue and what runs its jobs; `batch_size` jobs are claimed per transaction.

    `handle_batch`, when given, runs the claimed jobs together instead of `handle` one by one;
    should the batch fail, each job runs alone through it, so one bad job spares the others.
    """

    name: str
    handle: Handler | None = None
    batch_size: int = 1
    handle_batch: BatchHandler | None = None

    def __post_init__(self) -> None:
        if (self.handle is None) == (self.handle_batch is None):
            raise ValueError(f"queue {self.name}: give handle or handle_batch, exactly one")

    def alone(self) -> Handler:
        """One job at a time: `handle`, or the batch handler given a batch of one."""
        if self.handle is not None:
            return self.handle
        batch = self.handle_batch
        assert batch is not None

        async def one(conn: Connection, job: Job) -> datetime | None:
            return (await batch(conn, [job])).get(job.key)

        return one


async def schedule(conn: Connection, *, queue: str, key: str, due_at: datetime, payload: bytes = b"") -> bool:
    """Schedule a job in the caller's transaction, unless (queue, key) is scheduled already
    (the first cause wins); returns whether it was new."""
    status = await conn.execute(
        "INSERT INTO scheduled_jobs (queue, key, due_at, payload) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        queue, key, due_at, payload,
    )  # fmt: skip
    return bool(status == "INSERT 0 1")


async def schedule_many(conn: Connection, *, queue: str, scheduled: Sequence[tuple[str, datetime, bytes]]) -> int:
    """`schedule()` for many (key, due_at, payload) jobs in one statement (a broadcast enters
    thousands of persons at once); returns how many were new."""
    if not scheduled:
        return 0
    status = await conn.execute(
        "INSERT INTO scheduled_jobs (queue, key, due_at, payload) "
        "SELECT $1, k, d, p FROM unnest($2::text[], $3::timestamptz[], $4::bytea[]) AS t(k, d, p) "
        "ON CONFLICT DO NOTHING",
        queue, [s[0] for s in scheduled], [s[1] for s in scheduled], [s[2] for s in scheduled],
    )  # fmt: skip
    return int(status.rsplit(" ", 1)[-1])


async def set_due(conn: Connection, *, queue: str, key: str, due_at: datetime) -> None:
    """Make (queue, key) due at `due_at`, creating it if needed, e.g. '-infinity' for "now"
    (a recurring job run early); its failures are forgotten."""
    await conn.execute(
        "INSERT INTO scheduled_jobs (queue, key, due_at) VALUES ($1, $2, $3) ON CONFLICT (queue, key) "
        "DO UPDATE SET due_at = EXCLUDED.due_at, attempts = 0, last_error = NULL",
        queue, key, due_at,
    )  # fmt: skip


async def hold(conn: Connection, *, queue: str, key: str) -> bool:
    """Lock (queue, key) for the caller's transaction, waiting for a worker that runs it now:
    for running a job on demand (an RPC) without a worker running it at the same time.
    Returns whether the job exists."""
    found = await conn.fetchval("SELECT 1 FROM scheduled_jobs WHERE queue = $1 AND key = $2 FOR UPDATE", queue, key)
    return found is not None


class JobWorker:
    """Runs the due jobs of `queues` in this schema, a lane per queue (a long job of one queue
    does not hold up the others), until stop."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        queues: Sequence[Queue],
        clock: Callable[[], datetime],
        poll: float = 5.0,
        backoff: Backoff = DEFAULT_BACKOFF,
        linger: float = 0.0,
    ) -> None:
        self._pool, self._clock, self._backoff = pool, clock, backoff
        self._instruments = JobInstruments()
        self._lanes = {
            q.name: WakeLoop(name=f"jobs {q.name}", step=partial(self.run_due, q), poll=poll, clock=clock,
                             retry_on=TRANSIENT, backoff=backoff, linger=linger)
            for q in queues
        }  # fmt: skip

    async def run(self, stop: asyncio.Event) -> None:
        async with listening(self._pool, CHANNEL_PREFIX, self._heard):
            await asyncio.gather(*(lane.run(stop) for lane in self._lanes.values()))

    def _heard(self, queue: str) -> None:
        lane = self._lanes.get(queue)
        if lane is not None:
            lane.wake()

    async def run_due(self, queue: Queue) -> Pass:
        """Claim and run up to `queue.batch_size` due jobs in one transaction."""
        started = perf_counter()
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                now = self._clock()
                claimed = [Job(**dict(r)) for r in await conn.fetch(_CLAIM, queue.name, now, queue.batch_size)]
                if not (claimed and queue.handle_batch and await self._run_batch(conn, queue, claimed)):
                    for job in claimed:
                        await self._run_one(conn, queue, job, now)
            next_due = await conn.fetchval("SELECT min(due_at) FROM scheduled_jobs WHERE queue = $1", queue.name)
        if claimed:
            self._instruments.passed(queue.name, len(claimed), started)
        if not claimed and next_due is not None and next_due <= now:
            # Due but held (another worker runs it, or an on-demand run): its holder deletes or
            # moves it, and a move notifies; looking again at once would spin.
            next_due = None
        return Pass(more=len(claimed) >= queue.batch_size, next_due=next_due)

    async def _run_batch(self, conn: Connection, queue: Queue, claimed: Sequence[Job]) -> bool:
        """Run the claimed jobs together; False (their work rolled back) when the batch failed."""
        assert queue.handle_batch is not None
        try:
            async with conn.transaction():  # a savepoint: a failed batch is run again job by job
                again = await queue.handle_batch(conn, claimed)
                await _all_done(conn, queue.name, {job.key: again.get(job.key) for job in claimed})
        except TRANSIENT:
            raise
        except Exception:
            log.exception("jobs %s: a batch of %d failed; running them one by one", queue.name, len(claimed))
            return False
        return True

    async def _run_one(self, conn: Connection, queue: Queue, job: Job, now: datetime) -> None:
        try:
            async with conn.transaction():  # a savepoint: a failed job spares the batch's others
                again = await queue.alone()(conn, job)
                await _done(conn, job, again)
        except TRANSIENT:
            raise  # the claim is lost with the transaction: the jobs are claimed again later
        except Exception as exc:
            delay = self._backoff.delay(job.attempts + 1)
            log.exception(
                "job %s/%s failed (attempt %d), retried in %.0fs", job.queue, job.key, job.attempts + 1, delay
            )
            await conn.execute(
                "UPDATE scheduled_jobs SET attempts = attempts + 1, last_error = $5, "
                "due_at = $3::timestamptz + make_interval(secs => $4) WHERE queue = $1 AND key = $2",
                job.queue, job.key, now, delay, repr(exc)[:2000],
            )  # fmt: skip


async def _all_done(conn: Connection, queue: str, again: Mapping[str, datetime | None]) -> None:
    """`_done` for a batch, in two statements instead of one per job."""
    moved = {key: due for key, due in again.items() if due is not None}
    finished = [key for key, due in again.items() if due is None]
    await conn.execute("DELETE FROM scheduled_jobs WHERE queue = $1 AND key = ANY($2::text[])", queue, finished)
    await conn.execute(
        "UPDATE scheduled_jobs j SET due_at = m.due, attempts = 0, last_error = NULL "
        "FROM unnest($2::text[], $3::timestamptz[]) AS m(key, due) WHERE j.queue = $1 AND j.key = m.key",
        queue, list(moved), list(moved.values()),
    )  # fmt: skip


async def _done(conn: Connection, job: Job, again: datetime | None) -> None:
    if again is None:
        await conn.execute("DELETE FROM scheduled_jobs WHERE queue = $1 AND key = $2", job.queue, job.key)
        return
    await conn.execute(
        "UPDATE scheduled_jobs SET due_at = $3, attempts = 0, last_error = NULL WHERE queue = $1 AND key = $2",
        job.queue, job.key, again,
    )  # fmt: skip
