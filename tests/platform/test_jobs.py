"""Durable scheduled jobs: claimed once (SKIP LOCKED), woken by NOTIFY, due by the service's
clock, retried with backoff, and run again after a worker died mid-job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from bullseye_platform import jobs
from bullseye_platform.clock import Clock
from bullseye_platform.jobs import Backoff, Job, JobWorker, Queue
from bullseye_platform.store.pool import Connection

from tests.platform.waiting import wait_until

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Recorder:
    """A handler that records each run in `runs` (in the claim's transaction) and can fail."""

    def __init__(self, *, failing: frozenset[str] = frozenset(), every: timedelta | None = None) -> None:
        self.failing, self.every = failing, every

    async def __call__(self, conn: Connection, job: Job) -> datetime | None:
        await conn.execute("INSERT INTO runs (key, payload) VALUES ($1, $2)", job.key, job.payload)
        if job.key in self.failing:
            raise ValueError(f"cannot do {job.key}")
        return None if self.every is None else job.due_at + self.every


@pytest.fixture
async def runs(pool: asyncpg.Pool) -> AsyncIterator[None]:
    await pool.execute("CREATE TABLE runs (key text NOT NULL, payload bytea NOT NULL)")
    yield


async def schedule(pool: asyncpg.Pool, key: str, due_at: datetime, payload: bytes = b"") -> bool:
    async with pool.acquire() as conn, conn.transaction():
        return await jobs.schedule(conn, queue="q", key=key, due_at=due_at, payload=payload)


async def ran(pool: asyncpg.Pool) -> list[str]:
    return sorted(r["key"] for r in await pool.fetch("SELECT key FROM runs"))


async def job_row(pool: asyncpg.Pool, key: str) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT due_at, attempts, last_error FROM scheduled_jobs WHERE key = $1", key)


def worker(pool: asyncpg.Pool, clock: Clock, handler: Recorder, *, batch: int = 1, poll: float = 0.05) -> JobWorker:
    return JobWorker(pool=pool, queues=[Queue("q", handler, batch)], clock=clock.now, poll=poll,
                     backoff=Backoff(first=60, most=3600))  # fmt: skip


async def test_a_due_job_runs_once_with_its_payload_and_is_gone(pool: asyncpg.Pool, runs: None) -> None:
    clock = Clock(fixed=T0)
    assert await schedule(pool, "o-1", T0, b"order o-1")
    assert not await schedule(pool, "o-1", T0 + timedelta(hours=1), b"again")  # the same cause: one job

    found = await worker(pool, clock, Recorder()).run_due(Queue("q", Recorder()))

    assert [(r["key"], bytes(r["payload"])) for r in await pool.fetch("SELECT * FROM runs")] == [("o-1", b"order o-1")]
    assert await job_row(pool, "o-1") is None
    assert found.next_due is None  # nothing left to wait for


async def test_a_job_waits_for_its_due_time_on_the_services_clock(pool: asyncpg.Pool, runs: None) -> None:
    clock = Clock(fixed=T0)
    await schedule(pool, "24h-after-purchase", T0 + timedelta(hours=24))
    queue = Queue("q", Recorder())
    early = await worker(pool, clock, Recorder()).run_due(queue)
    assert await ran(pool) == [] and early.next_due == T0 + timedelta(hours=24)

    clock.advance(timedelta(hours=24))
    await worker(pool, clock, Recorder()).run_due(queue)

    assert await ran(pool) == ["24h-after-purchase"]


async def test_a_recurring_job_moves_to_the_time_its_handler_names(pool: asyncpg.Pool, runs: None) -> None:
    clock = Clock(fixed=T0)
    await schedule(pool, "daily", T0)
    daily = Recorder(every=timedelta(days=1))

    await worker(pool, clock, daily).run_due(Queue("q", daily))

    row = await job_row(pool, "daily")
    assert row is not None and row["due_at"] == T0 + timedelta(days=1) and row["attempts"] == 0


async def test_a_failed_job_is_retried_after_a_growing_delay_and_spares_the_rest_of_its_batch(
    pool: asyncpg.Pool, runs: None
) -> None:
    clock = Clock(fixed=T0)
    for key in ("a", "b", "c"):
        await schedule(pool, key, T0)
    handler = Recorder(failing=frozenset({"b"}))
    queue = Queue("q", handler, batch_size=3)
    runner = worker(pool, clock, handler)

    await runner.run_due(queue)
    assert await ran(pool) == ["a", "c"], "b's own writes are rolled back with its savepoint"
    first = await job_row(pool, "b")
    assert first is not None and first["attempts"] == 1 and first["due_at"] == T0 + timedelta(seconds=60)
    assert "cannot do b" in first["last_error"]

    clock.advance(timedelta(seconds=60))
    await runner.run_due(queue)
    second = await job_row(pool, "b")
    assert second is not None and second["attempts"] == 2
    assert second["due_at"] == T0 + timedelta(seconds=60 + 120)  # doubled


async def test_two_workers_never_run_one_job_twice(pool: asyncpg.Pool, postgres: object, runs: None) -> None:
    clock = Clock(fixed=T0)
    async with pool.acquire() as conn, conn.transaction():
        for n in range(60):
            await jobs.schedule(conn, queue="q", key=f"job-{n:02d}", due_at=T0)
    handler = Recorder()
    queue = Queue("q", handler, batch_size=4)
    workers = [worker(pool, clock, handler), worker(pool, clock, handler)]

    async def drain(one: JobWorker) -> None:
        while (await one.run_due(queue)).more:
            pass

    await asyncio.gather(*(drain(w) for w in workers))

    assert await ran(pool) == [f"job-{n:02d}" for n in range(60)]


async def test_a_job_whose_worker_died_mid_run_is_run_again(pool: asyncpg.Pool, runs: None) -> None:
    clock = Clock(fixed=T0)
    await schedule(pool, "fragile", T0)
    entered, never = asyncio.Event(), asyncio.Event()

    async def stuck(conn: Connection, job: Job) -> None:
        await conn.execute("INSERT INTO runs (key, payload) VALUES ($1, 'first try')", job.key)
        entered.set()
        await never.wait()

    dying = asyncio.create_task(worker(pool, clock, Recorder()).run_due(Queue("q", stuck)))
    await entered.wait()
    dying.cancel()  # the worker dies with its transaction open
    with pytest.raises(asyncio.CancelledError):
        await dying
    await worker(pool, clock, Recorder()).run_due(Queue("q", Recorder()))

    assert [bytes(r["payload"]) for r in await pool.fetch("SELECT payload FROM runs")] == [b""]
    assert await job_row(pool, "fragile") is None


async def test_scheduling_wakes_the_worker_long_before_its_poll(pool: asyncpg.Pool, runs: None) -> None:
    clock = Clock(fixed=T0)
    stop = asyncio.Event()
    running = asyncio.create_task(worker(pool, clock, Recorder(), poll=3600).run(stop))
    try:
        await asyncio.sleep(0.2)  # it looked once and waits for a notification
        await schedule(pool, "woken", T0)

        async def done() -> bool:
            return await ran(pool) == ["woken"]

        await wait_until(done, within=20)
    finally:
        stop.set()
        await running


async def test_set_due_brings_a_job_forward_and_a_held_job_is_left_to_its_holder(
    pool: asyncpg.Pool, runs: None
) -> None:
    clock = Clock(fixed=T0)
    await schedule(pool, "daily", T0 + timedelta(days=1))
    async with pool.acquire() as conn, conn.transaction():
        await jobs.set_due(conn, queue="q", key="daily", due_at=T0)  # e.g. "now", after a rebuild
    async with pool.acquire() as conn, conn.transaction():
        assert await jobs.hold(conn, queue="q", key="daily")  # an on-demand run in progress
        held = await worker(pool, clock, Recorder()).run_due(Queue("q", Recorder()))
        assert await ran(pool) == [], "SKIP LOCKED: the holder runs it"
        assert held.next_due is None, "due but held: the lane waits for a notification, it does not spin"
    await worker(pool, clock, Recorder()).run_due(Queue("q", Recorder()))

    assert await ran(pool) == ["daily"]


class BatchRecorder:
    """A batch handler: one INSERT for the whole batch; fails any batch that holds `failing`."""

    def __init__(self, *, failing: frozenset[str] = frozenset(), again: dict[str, datetime] | None = None) -> None:
        self.failing, self.again = failing, again or {}
        self.batches: list[list[str]] = []

    async def __call__(self, conn: Connection, claimed: Sequence[Job]) -> dict[str, datetime | None]:
        keys = [job.key for job in claimed]
        self.batches.append(keys)
        await conn.execute("INSERT INTO runs (key, payload) SELECT k, ''::bytea FROM unnest($1::text[]) k", keys)
        if self.failing & set(keys):
            raise ValueError(f"cannot do {sorted(self.failing & set(keys))}")
        return {key: self.again.get(key) for key in keys}


async def test_a_batch_handler_runs_the_claimed_jobs_together_and_moves_each_as_it_says(
    pool: asyncpg.Pool, runs: None
) -> None:
    clock = Clock(fixed=T0)
    for key in ("a", "b", "c"):
        await schedule(pool, key, T0)
    handler = BatchRecorder(again={"b": T0 + timedelta(hours=1)})
    queue = Queue("q", batch_size=3, handle_batch=handler)

    await JobWorker(pool=pool, queues=[queue], clock=clock.now).run_due(queue)

    assert handler.batches == [["a", "b", "c"]]
    assert await ran(pool) == ["a", "b", "c"]
    assert [r["key"] for r in await pool.fetch("SELECT key FROM scheduled_jobs")] == ["b"]
    moved = await job_row(pool, "b")
    assert moved is not None and moved["due_at"] == T0 + timedelta(hours=1)


async def test_a_failed_batch_is_run_again_job_by_job_so_one_bad_job_spares_the_others(
    pool: asyncpg.Pool, runs: None
) -> None:
    clock = Clock(fixed=T0)
    for key in ("a", "b", "c"):
        await schedule(pool, key, T0)
    handler = BatchRecorder(failing=frozenset({"b"}))
    queue = Queue("q", batch_size=3, handle_batch=handler)

    await JobWorker(pool=pool, queues=[queue], clock=clock.now, backoff=Backoff(first=60)).run_due(queue)

    assert handler.batches == [["a", "b", "c"], ["a"], ["b"], ["c"]]
    assert await ran(pool) == ["a", "c"], "the failed batch's writes and b's own are rolled back"
    failed = await job_row(pool, "b")
    assert failed is not None and failed["attempts"] == 1 and failed["due_at"] == T0 + timedelta(seconds=60)


def test_a_queue_takes_one_handler_or_a_batch_handler_not_both() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Queue("q", Recorder(), handle_batch=BatchRecorder())
    with pytest.raises(ValueError, match="exactly one"):
        Queue("q")


async def test_many_jobs_are_scheduled_in_one_statement_and_a_cause_already_scheduled_is_kept(
    pool: asyncpg.Pool, runs: None
) -> None:
    await schedule(pool, "b", T0, b"first")
    async with pool.acquire() as conn, conn.transaction():
        new = await jobs.schedule_many(
            conn, queue="q", scheduled=[("a", T0, b"a"), ("b", T0, b"again"), ("c", T0 + timedelta(hours=1), b"c")]
        )

    assert new == 2
    rows = await pool.fetch("SELECT key, due_at, payload FROM scheduled_jobs ORDER BY key")
    assert [(r["key"], r["due_at"], bytes(r["payload"])) for r in rows] == [
        ("a", T0, b"a"), ("b", T0, b"first"), ("c", T0 + timedelta(hours=1), b"c")]  # fmt: skip
