"""An asyncpg pool whose connections work inside one service's schema."""

from __future__ import annotations

import re
from typing import TypeAlias

import asyncpg

# What projections and repositories receive: a plain connection or one lent by a pool.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"

# Errors that say "the database is not there right now", not "this work is bad": a worker
# retries them later instead of setting the work aside.
TRANSIENT = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.DeadlockDetectedError)

_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def quote_ident(name: str) -> str:
    """Quote a SQL identifier we control (schema, table, column).

    Raises:
        ValueError: the name is not a plain lower-case identifier; identifiers are never
            built from user input, and this refuses anything that looks like it was.
    """
    # fullmatch, not match: `$` also matches before a trailing newline, so match() let
    # "widgets\n" through as an "identifier".
    if not _IDENT.fullmatch(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return f'"{name}"'


async def _keep_session(_: asyncpg.Connection[asyncpg.Record]) -> None:
    """Return a connection to the pool as it is (asyncpg still rolls back an open transaction).

    asyncpg's default reset sends UNLISTEN *, RESET ALL, CLOSE ALL and an advisory unlock on
    every release: a round trip per transaction and per read. Nothing here leaves session
    state behind: settings are SET LOCAL, advisory locks are transaction locks, cursors live
    in transactions, and the outbox relay unlistens before it gives its connection back.
    """


async def create_pool(
    dsn: str, *, schema: str, min_size: int = 2, max_size: int = 10, custom_plans: bool = False
) -> asyncpg.Pool:
    """Create `schema` if needed and a pool whose search_path is that schema.

    `custom_plans`: plan every execution for its parameters (plan_cache_mode). asyncpg
    prepares each statement, and after five runs PostgreSQL may settle on a generic plan
    made from the statistics of that moment: on a table that was empty then (a new
    deployment, a rebuild) it keeps a sequential scan while the table grows, until an
    ANALYZE. Worth the planning time for set-based reads over growing tables.

    Raises:
        ValueError: `schema` is not a plain identifier.
        OSError, asyncpg.PostgresError: PostgreSQL is unreachable or refuses.
    """
    quoted = quote_ident(schema)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        reset=_keep_session,
        server_settings={
            "search_path": schema,
            "application_name": f"bullseye-{schema}",
            "plan_cache_mode": "force_custom_plan" if custom_plans else "auto",
        },
    )
    assert pool is not None
    return pool
