"""Leadership through a PostgreSQL advisory lock: one candidate runs the jobs, a standby takes
over when the leader stops or its session is gone, and a job that fails stops its candidate."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from bullseye_devtools.stack import PostgresServer
from bullseye_platform.grpc.server import Worker
from bullseye_platform.store.leadership import Leadership, lock_key

from tests.platform.waiting import wait_until

FAST = {"retry": 0.05, "check": 0.2}


class Jobs:
    """Which candidates' jobs are running now, and every start in order."""

    def __init__(self) -> None:
        self.running: set[str] = set()
        self.starts: list[str] = []

    def job(self, tag: str) -> Worker:
        async def run(stop: asyncio.Event) -> None:
            self.running.add(tag)
            self.starts.append(tag)
            try:
                await stop.wait()
            finally:
                self.running.discard(tag)

        return run

    def only(self, tag: str) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return self.running == {tag}

        return check


@contextlib.asynccontextmanager
async def candidate(leadership: Leadership) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(leadership.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await task


async def holder(pg: asyncpg.Connection, name: str) -> int | None:
    """The backend pid holding the lock named `name` (an advisory key is split in two oids)."""
    key = lock_key(name) & 0xFFFFFFFFFFFFFFFF
    pid = await pg.fetchval(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2 "
        "AND objsubid = 1",
        key >> 32,
        key & 0xFFFFFFFF,
    )
    return None if pid is None else int(pid)


def standing_by(pg: asyncpg.Connection, name: str) -> Callable[[], Awaitable[bool]]:
    """True once a candidate's session other than the holder's has asked for the lock."""

    async def check() -> bool:
        leader = await holder(pg, name)
        asked = await pg.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND pid <> $2 "
            "AND query LIKE 'SELECT pg_try_advisory_lock%'",
            f"leader:{name}",
            leader or 0,
        )
        return leader is not None and asked == 1

    return check


async def test_one_candidate_leads_and_the_standby_takes_over_when_the_leader_stops(
    postgres: PostgresServer, pg: asyncpg.Connection, token: str
) -> None:
    jobs, name = Jobs(), f"test-{token}"
    async with candidate(Leadership(postgres.dsn, name, [jobs.job("a")], **FAST)) as stop_a:
        await wait_until(jobs.only("a"))
        async with candidate(Leadership(postgres.dsn, name, [jobs.job("b")], **FAST)):
            await wait_until(standing_by(pg, name))  # b asked for the lock while a held it
            assert jobs.running == {"a"} and jobs.starts == ["a"]
            stop_a.set()
            await wait_until(jobs.only("b"))
    assert jobs.starts == ["a", "b"]


async def test_a_leader_whose_session_is_terminated_stops_its_jobs_and_leadership_resumes(
    postgres: PostgresServer, pg: asyncpg.Connection, token: str
) -> None:
    jobs, name = Jobs(), f"test-{token}"
    async with (
        candidate(Leadership(postgres.dsn, name, [jobs.job("a")], **FAST)),
        candidate(Leadership(postgres.dsn, name, [jobs.job("b")], **FAST)),
    ):
        await wait_until(standing_by(pg, name))
        assert len(jobs.running) == 1
        await pg.execute("SELECT pg_terminate_backend($1)", await holder(pg, name))

        async def led_again() -> bool:  # by either: both ask, whoever asks first gets it
            return len(jobs.starts) == 2 and len(jobs.running) == 1

        await wait_until(led_again)  # the first leader's job was stopped: one runs, two have started
        await wait_until(standing_by(pg, name))  # the other is a candidate again, on a new session


async def test_a_job_that_fails_ends_leadership_with_its_error(postgres: PostgresServer, token: str) -> None:
    async def broken(stop: asyncio.Event) -> None:
        raise ValueError("bad job")

    leadership = Leadership(postgres.dsn, f"test-{token}", [broken], **FAST)
    with pytest.raises(RuntimeError, match="a job failed") as raised:
        await asyncio.wait_for(leadership.run(asyncio.Event()), timeout=30)
    assert isinstance(raised.value.__cause__, ValueError)
