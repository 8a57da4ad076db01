"""A deliberately non-idempotent test projection, and a worker process that runs it.

`CountingProjection` inserts one `applied` row per record and bumps `totals.n` by one:
applying a record twice leaves a trace, so only an exactly-once runner passes the tests.

Run as a process (the kill test SIGKILLs it mid-batch):
    python -m tests.platform.projection_worker NATS_URL DSN STREAM SUBJECT_PREFIX SCHEMA PARTITIONS
PARTITIONS is a comma-separated list; PROJECTION_PAUSE (seconds per record) slows `apply`
so that kills land inside the transaction.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Collection, Sequence

import asyncpg
import nats
from bullseye_platform.eventlog import LogRecord
from bullseye_platform.projection import ProjectionRunner
from bullseye_platform.store import create_pool
from bullseye_platform.store.pool import Connection
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext


class PoisonRecord(ValueError):
    """A record the projection cannot apply (bad data, a bug): not a transient failure."""


class CountingProjection:
    """Records each applied message and counts them, non-idempotently on purpose."""

    owned_tables: Sequence[str] = ("applied", "totals")

    def __init__(self, name: str = "counting", *, pause: float = 0.0, poison: Collection[str] = ()) -> None:
        self.name = name
        self._pause = pause
        self._poison = set(poison)

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        for record in records:
            if record.msg_id in self._poison:
                raise PoisonRecord(f"cannot apply {record.msg_id}")
            await conn.execute("INSERT INTO applied (seq, msg_id) VALUES ($1, $2)", record.seq, record.msg_id)
            await conn.execute(
                "INSERT INTO totals (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = totals.n + 1"
            )
            if self._pause:
                await asyncio.sleep(self._pause)


def build_runner(
    js: JetStreamContext, pool: asyncpg.Pool, projection: CountingProjection, *, stream: str, prefix: str,
    partitions: Sequence[int], batch_size: int = 50, readers: int = 2, linger: float = 0.0,
) -> ProjectionRunner:  # fmt: skip
    return ProjectionRunner(
        js=js, pool=pool, projection=projection, stream=stream, subject_prefix=prefix, partitions=partitions,
        readers=readers, batch_size=batch_size, linger=linger, fetch_timeout=0.2, retry_delay=0.2,
    )  # fmt: skip


async def main(argv: Sequence[str]) -> None:
    nats_url, dsn, stream, prefix, schema, partitions = argv
    nc: NATS = await nats.connect(nats_url)
    pool = await create_pool(dsn, schema=schema, min_size=1, max_size=8)
    projection = CountingProjection(pause=float(os.environ.get("PROJECTION_PAUSE", "0")))
    owned = [int(p) for p in partitions.split(",")]
    runner = build_runner(nc.jetstream(), pool, projection, stream=stream, prefix=prefix, partitions=owned)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await runner.run(stop)
    finally:
        await pool.close()
        await nc.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    asyncio.run(main(sys.argv[1:]))
