"""kill -9 a projection worker mid-batch, again and again: every event still applied exactly once."""

from __future__ import annotations

import asyncio
import functools
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import asyncpg
import pytest
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_platform.eventlog import StreamSpec
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from tests.platform.projection_support import PARTITIONS, caught_up, dump, in_a_transaction, publish
from tests.platform.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
EVENTS, KILLS = 3000, 3
PAUSE_PER_RECORD = "0.002"  # keeps a batch's transaction open long enough for kills to land inside it


@pytest.fixture
def worker_log(tmp_path: Path) -> Iterator[IO[bytes]]:
    with (tmp_path / "worker.log").open("wb") as log:
        yield log


async def start_worker(argv: list[str], log: IO[bytes]) -> asyncio.subprocess.Process:
    env = {**os.environ, "PROJECTION_PAUSE": PAUSE_PER_RECORD}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.platform.projection_worker", *argv, cwd=ROOT, env=env, stdout=log, stderr=log
    )


async def applied_count(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM applied"))


async def wait_for_progress(pool: asyncpg.Pool, worker: asyncio.subprocess.Process, beyond: int) -> None:
    """Until the worker has committed something past `beyond`: it is busy in the middle of the run."""
    async with asyncio.timeout(60):
        while await applied_count(pool) <= beyond:
            assert worker.returncode is None, "the worker died on its own; see worker.log"
            await asyncio.sleep(0.02)


@pytest.mark.slow
async def test_a_worker_killed_mid_batch_again_and_again_applies_every_event_exactly_once(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool, schema: str,
    nats_server: NatsServer, postgres: PostgresServer, worker_log: IO[bytes],
) -> None:  # fmt: skip
    ends = await publish(nc, js, stream, EVENTS)
    argv = [nats_server.url, postgres.dsn, stream.name, stream.subject_prefix, schema]
    argv.append(",".join(str(p) for p in range(PARTITIONS)))
    rng = random.Random()
    killed_inside_a_transaction = 0

    for _ in range(KILLS):
        worker = await start_worker(argv, worker_log)
        await wait_for_progress(pool, worker, beyond=await applied_count(pool))
        await asyncio.sleep(rng.uniform(0.0, 0.3))  # a different point of the run each time
        await wait_until(functools.partial(in_a_transaction, pool, schema), within=60, every=0.005)  # not between two
        killed_inside_a_transaction += await in_a_transaction(pool, schema)
        worker.kill()
        await worker.wait()
        assert not await caught_up(pool, "counting", ends), "killed too late to prove anything: raise EVENTS"

    worker = await start_worker(argv, worker_log)
    try:
        async with asyncio.timeout(60):
            while not await caught_up(pool, "counting", ends):
                assert worker.returncode is None, "the worker died on its own; see worker.log"
                await asyncio.sleep(0.05)
    finally:
        worker.terminate()
        await worker.wait()

    tables = await dump(pool)
    assert killed_inside_a_transaction >= 1
    assert {msg_id for _, msg_id in tables.applied} == {f"evt-{i}" for i in range(EVENTS)}, "events lost"
    assert tables.most_applications_of_one_msg == 1, "an event was applied twice"
    assert len(tables.applied) == EVENTS
    assert tables.total == EVENTS
    assert worker.returncode == 0  # SIGTERM stops it cleanly
