"""ProjectionRunner's linger: after a batch smaller than its batch size a reader waits before it
fetches again, so that the records arriving meanwhile share one transaction; after a full
batch it fetches at once (there is more), and a stop ends a linger."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
from bullseye_platform.eventlog import LogRecord, StreamSpec
from bullseye_platform.projection import ProjectionRunner
from bullseye_platform.store.pool import Connection
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from tests.platform.projection_support import PARTITIONS, caught_up, publish
from tests.platform.projection_worker import CountingProjection, build_runner
from tests.platform.waiting import running, wait_until

RESOLUTION = 0.01  # asyncio may run a timer up to its clock's resolution early


class TimedProjection(CountingProjection):
    """Notes each batch it applies: its size, and when its application began and ended."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[int, float, float]] = []

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        began = asyncio.get_running_loop().time()
        await super().apply(conn, records)
        self.batches.append((len(records), began, asyncio.get_running_loop().time()))


def one_reader(
    js: JetStreamContext, pool: asyncpg.Pool, stream: StreamSpec, projection: TimedProjection, *, batch_size: int,
    linger: float,
) -> ProjectionRunner:  # fmt: skip
    every = list(range(PARTITIONS))
    return build_runner(js, pool, projection, stream=stream.name, prefix=stream.subject_prefix, partitions=every,
                        readers=1, batch_size=batch_size, linger=linger)  # fmt: skip


async def applied(pool: asyncpg.Pool, ends: dict[int, int]) -> None:
    await wait_until(lambda: caught_up(pool, "counting", ends))


async def test_a_reader_lingers_after_a_short_batch_before_it_fetches_again(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    projection = TimedProjection()
    async with running(one_reader(js, pool, stream, projection, batch_size=50, linger=0.5).run):
        await applied(pool, await publish(nc, js, stream, 1))
        await applied(pool, await publish(nc, js, stream, 1, start=1))

    (_, _, first_ended), (_, second_began, _) = projection.batches
    assert second_began - first_ended >= 0.5 - RESOLUTION


async def test_a_reader_fetches_again_at_once_after_a_full_batch(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    full = await publish(nc, js, stream, 2)  # stored before the reader starts: its first fetch takes both
    projection = TimedProjection()
    reader = one_reader(js, pool, stream, projection, batch_size=2, linger=3600)
    async with running(reader.run):  # its stop ends the linger after the last, short batch
        await applied(pool, full)
        await applied(pool, await publish(nc, js, stream, 1, start=2))  # an hour's linger would fail this wait

    assert [size for size, _, _ in projection.batches] == [2, 1]
