"""store.listen: notifications arrive, and a lost session is said before a new one listens."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from bullseye_devtools.stack import PostgresServer
from bullseye_platform.store.listen import Listener

from tests.platform.waiting import wait_until


async def test_a_listener_hears_notifications_and_says_when_it_may_have_missed_some(
    postgres: PostgresServer, pool: asyncpg.Pool
) -> None:
    channel = f"test-listen-{uuid.uuid4().hex[:8]}"
    heard: list[str] = []
    states: list[bool] = []
    listener = Listener(postgres.dsn, channel, on_notify=heard.append, on_live=states.append, retry=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(listener.run(stop))

    async def listening() -> bool:
        query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'"
        return await pool.fetchval(query, f"listen-{channel}") == 1

    await wait_until(listening)
    await pool.execute("SELECT pg_notify($1, 'first')", channel)
    await wait_until(lambda: asyncio.sleep(0, result=heard == ["first"]))

    await pool.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                       f"listen-{channel}")  # fmt: skip
    await wait_until(lambda: asyncio.sleep(0, result=states == [True, False, True]))
    await wait_until(listening)
    await pool.execute("SELECT pg_notify($1, 'second')", channel)
    await wait_until(lambda: asyncio.sleep(0, result=heard == ["first", "second"]))

    stop.set()
    await running
    assert states == [True, False, True, False]  # the last: stopped, nothing heard from now on
