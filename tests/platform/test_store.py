"""The store: forward-only checksummed migrations, batched upserts, safe identifiers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from bullseye_devtools.stack import PostgresServer
from bullseye_platform.store import MigrationError, bulk_upsert, migrate, quote_ident
from bullseye_platform.store.migrations import PLATFORM_PACKAGE, discover

from tests.platform.conftest import FIXTURE_PACKAGE

EDITED_PACKAGE = f"{FIXTURE_PACKAGE}.edited"
WIDGET_COLUMNS = [("id", "int"), ("name", "text"), ("qty", "int")]


@pytest.fixture
async def conn(postgres: PostgresServer) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(postgres.dsn)
    yield conn
    await conn.close()


async def tables_in(conn: asyncpg.Connection, schema: str) -> set[str]:
    rows = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema)
    return {r["table_name"] for r in rows}


async def test_migrate_applies_the_platform_and_package_migrations_in_version_order(
    conn: asyncpg.Connection, schema: str
) -> None:
    applied = await migrate(conn, schema=schema, package=FIXTURE_PACKAGE)

    assert [(m.version, m.name) for m in applied] == [
        (1, "platform_positions"),
        (2, "platform_outbox"),
        (3, "platform_outbox_notify"),
        (4, "platform_jobs"),
        (5, "platform_streams_and_replays"),
        (100, "widgets"),
        (101, "counting_projection"),
    ]
    assert await tables_in(conn, schema) == {
        "schema_migrations",
        "projection_positions",
        "projection_dead_letters",
        "outbox",
        "scheduled_jobs",
        "projection_replays",
        "projection_replay_partitions",
        "widgets",
        "applied",
        "totals",
    }
    recorded = await conn.fetch(f"SELECT version, checksum FROM {quote_ident(schema)}.schema_migrations ORDER BY 1")
    assert [(r["version"], r["checksum"]) for r in recorded] == [(m.version, m.checksum) for m in applied]


async def test_a_second_migrate_applies_nothing(conn: asyncpg.Connection, schema: str) -> None:
    await migrate(conn, schema=schema, package=FIXTURE_PACKAGE)

    assert await migrate(conn, schema=schema, package=FIXTURE_PACKAGE) == []


async def test_migrate_refuses_a_migration_edited_after_it_was_applied(conn: asyncpg.Connection, schema: str) -> None:
    await migrate(conn, schema=schema, package=FIXTURE_PACKAGE)

    with pytest.raises(MigrationError, match="0100_widgets was edited"):
        await migrate(conn, schema=schema, package=EDITED_PACKAGE)

    columns = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'widgets'", schema
    )
    assert {r["column_name"] for r in columns} == {"id", "name", "qty"}


async def test_concurrent_migrations_of_one_schema_apply_each_file_once(postgres: PostgresServer, schema: str) -> None:
    conns = [await asyncpg.connect(postgres.dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c, schema=schema, package=FIXTURE_PACKAGE) for c in conns))
    finally:
        await asyncio.gather(*(c.close() for c in conns))

    every = len(discover(PLATFORM_PACKAGE, "sql") + discover(FIXTURE_PACKAGE))
    assert sorted(len(applied) for applied in results) == [0, 0, 0, every]


async def test_a_failing_migration_leaves_the_schema_unchanged(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(f"CREATE SCHEMA {quote_ident(schema)}")
    await conn.execute(f"CREATE TABLE {quote_ident(schema)}.widgets (id int)")  # 0100 will collide

    with pytest.raises(MigrationError, match="0100_widgets failed"):
        await migrate(conn, schema=schema, package=FIXTURE_PACKAGE)

    assert await tables_in(conn, schema) == {"widgets"}


async def test_bulk_upsert_inserts_new_rows_then_updates_them_on_key_conflict(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        inserted = await bulk_upsert(
            conn, table="widgets", columns=WIDGET_COLUMNS, rows=[(1, "bolt", 5), (2, "nut", 7)], key=["id"]
        )
        updated = await bulk_upsert(
            conn, table="widgets", columns=WIDGET_COLUMNS, rows=[(2, "hex nut", 9), (3, "washer", 1)], key=["id"]
        )
        rows = await conn.fetch("SELECT id, name, qty FROM widgets ORDER BY id")

    assert (inserted, updated) == (2, 2)
    assert [tuple(r) for r in rows] == [(1, "bolt", 5), (2, "hex nut", 9), (3, "washer", 1)]


async def test_bulk_upsert_updates_only_the_named_columns(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await bulk_upsert(conn, table="widgets", columns=WIDGET_COLUMNS, rows=[(1, "bolt", 5)], key=["id"])
        await bulk_upsert(
            conn, table="widgets", columns=WIDGET_COLUMNS, rows=[(1, "renamed", 8)], key=["id"], update=["qty"]
        )
        row = await conn.fetchrow("SELECT name, qty FROM widgets WHERE id = 1")

    assert row is not None and tuple(row) == ("bolt", 8)


async def test_bulk_upsert_with_no_update_columns_keeps_existing_rows(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await bulk_upsert(conn, table="widgets", columns=WIDGET_COLUMNS, rows=[(1, "bolt", 5)], key=["id"])
        written = await bulk_upsert(
            conn,
            table="widgets",
            columns=WIDGET_COLUMNS,
            rows=[(1, "ignored", 0), (2, "nut", 7)],
            key=["id"],
            update=[],
        )
        rows = await conn.fetch("SELECT id, name, qty FROM widgets ORDER BY id")

    assert written == 1
    assert [tuple(r) for r in rows] == [(1, "bolt", 5), (2, "nut", 7)]


async def test_bulk_upsert_of_no_rows_writes_nothing(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await bulk_upsert(conn, table="widgets", columns=WIDGET_COLUMNS, rows=[], key=["id"]) == 0


async def test_bulk_upsert_values_travel_as_parameters_not_sql(pool: asyncpg.Pool) -> None:
    hostile = "x'); DROP TABLE widgets; --"
    async with pool.acquire() as conn:
        await bulk_upsert(conn, table="widgets", columns=WIDGET_COLUMNS, rows=[(1, hostile, 1)], key=["id"])

        assert await conn.fetchval("SELECT name FROM widgets WHERE id = 1") == hostile


@pytest.mark.parametrize("name", ["widgets", "_private", "t_0a1b", "a" * 63])
def test_quote_ident_quotes_plain_lower_case_identifiers(name: str) -> None:
    assert quote_ident(name) == f'"{name}"'


@pytest.mark.parametrize(
    "name",
    [
        'x"; drop table y; --',
        "Widgets",
        "two words",
        "1st",
        "",
        "a" * 64,
        "schema.table",
        "naïve",
        "x\x00",
        "widgets\n",
    ],
)
def test_quote_ident_refuses_anything_that_is_not_a_plain_identifier(name: str) -> None:
    with pytest.raises(ValueError, match="not a safe SQL identifier"):
        quote_ident(name)


async def test_bulk_upsert_refuses_an_injection_shaped_column_name(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(ValueError):
            await bulk_upsert(
                conn, table="widgets", columns=[("id", "int"), ('x"; drop table widgets; --', "text")], rows=[(1, "a")],
                key=["id"],
            )  # fmt: skip
        assert await conn.fetchval("SELECT count(*) FROM widgets") == 0


async def test_a_connection_given_back_mid_transaction_comes_back_without_it(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("BEGIN")
        await conn.execute("INSERT INTO widgets (id, name, qty) VALUES (1, 'left open', 1)")

    async with pool.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT count(*) FROM widgets") == 0
