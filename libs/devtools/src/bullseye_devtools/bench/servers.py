"""What the benchmarks' own stacks share: PostgreSQL and a strict nats-server started for one
stack, and the wait until a service has folded what was seeded."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import asyncpg
from bullseye_platform.eventlog import Durability

from bullseye_devtools.bench.registry import Session
from bullseye_devtools.stack import NatsServer, PostgresServer


def strict_servers(session: Session, root: Path, stack: contextlib.ExitStack) -> tuple[PostgresServer, NatsServer]:
    """PostgreSQL and a nats-server that fsyncs every write (what a deployment runs), under
    `root`, stopped when `stack` closes."""
    session.step("starting PostgreSQL and a strict nats-server")
    postgres = PostgresServer(root / "postgres").start()
    stack.callback(postgres.stop)
    nats = NatsServer(root / "nats", durability=Durability.STRICT).start()
    stack.callback(nats.stop)
    return postgres, nats


async def folded(dsn: str, schema: str, table: str, expected: int, *, within: float) -> None:
    """Until `schema.table` holds `expected` rows; the service creates the table when it
    starts, so an absent one counts as empty. TimeoutError after `within` seconds."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        deadline = time.monotonic() + within
        while await _count(conn, table) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{schema} did not fold {expected:,} rows of {table} within {within:.0f}s")
            await asyncio.sleep(0.2)  # the state is in another process
    finally:
        await conn.close()


async def _count(conn: asyncpg.Connection[Any], table: str) -> int:
    with contextlib.suppress(asyncpg.UndefinedTableError):
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    return 0
