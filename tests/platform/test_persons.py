"""Merges and splits of RESOLVED applied to a consumer's own rows, through the projection runner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import resolved_pb2 as rs
from bullseye_platform.eventlog import LogMessage, LogRecord, LogWriter, StreamSpec, subject_for
from bullseye_platform.persons import apply_resolved, canonical
from bullseye_platform.projection import ProjectionRunner
from bullseye_platform.store.pool import Connection
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from tests.platform.waiting import wait_until


class Holdings:
    """A consumer that keeps one row per event under its person (as profile's journal does)."""

    name = "holdings"
    owned_tables: Sequence[str] = ("holdings", "person_aliases")

    def __init__(self) -> None:
        self.changed: list[set[str]] = []

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        self.changed.append(await apply_resolved(conn, records, self))

    async def add(self, conn: Connection, events: Sequence[tuple[str, rs.ResolvedEvent]]) -> set[str]:
        await conn.executemany(
            "INSERT INTO holdings (event_id, person_id) VALUES ($2, $1) ON CONFLICT DO NOTHING",
            [(owner, e.event.event_id) for owner, e in events],
        )
        return {owner for owner, _ in events}

    async def repoint(self, conn: Connection, merged: str, survivor: str) -> None:
        await conn.execute("UPDATE holdings SET person_id = $1 WHERE person_id = $2", survivor, merged)

    async def move(self, conn: Connection, target: str, event_ids: Sequence[str]) -> set[str]:
        rows = await conn.fetch(
            "UPDATE holdings h SET person_id = $1 FROM holdings old "
            "WHERE h.event_id = old.event_id AND h.event_id = ANY($2::text[]) RETURNING old.person_id",
            target, list(event_ids),
        )  # fmt: skip
        return {r["person_id"] for r in rows}


@pytest.fixture
async def tables(pool: asyncpg.Pool) -> AsyncIterator[None]:
    await pool.execute("CREATE TABLE holdings (event_id text PRIMARY KEY, person_id text NOT NULL)")
    await pool.execute("CREATE TABLE person_aliases (person_id text PRIMARY KEY, survivor_id text NOT NULL)")
    yield


def event(person: str, event_id: str) -> rs.ResolvedRecord:
    return rs.ResolvedRecord(event=rs.ResolvedEvent(person_id=person, event=ev.Event(event_id=event_id)))


def merged(survivor: str, gone: str) -> rs.ResolvedRecord:
    return rs.ResolvedRecord(merged=rs.PersonsMerged(survivor_person_id=survivor, merged_person_id=gone))


def split(person: str, new: str, moved: Sequence[str]) -> rs.ResolvedRecord:
    return rs.ResolvedRecord(split=rs.PersonSplit(person_id=person, new_person_id=new, moved_event_ids=moved))


async def project(
    nc: NATS, js: JetStreamContext, pool: asyncpg.Pool, stream: StreamSpec, records: Sequence[rs.ResolvedRecord]
) -> Holdings:
    """Append `records` to one partition (one order) and project them until the last is applied."""
    writer = LogWriter(nc)
    messages = [
        LogMessage(subject=subject_for(stream.subject_prefix, 0, r.WhichOneof("kind") or ""),
                   payload=r.SerializeToString(), msg_id=f"r-{n}")
        for n, r in enumerate(records)
    ]  # fmt: skip
    last = (await writer.append(messages))[-1].seq
    await writer.close()
    holdings = Holdings()
    runner = ProjectionRunner(
        js=js,
        pool=pool,
        projection=holdings,
        stream=stream.name,
        subject_prefix=stream.subject_prefix,
        partitions=[0],
        batch_size=4,
        fetch_timeout=0.2,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))

    async def applied() -> bool:
        return bool(await pool.fetchval("SELECT stream_seq >= $1 FROM projection_positions", last))

    try:
        await wait_until(applied)
    finally:
        stop.set()
        await task
    return holdings


async def owners(pool: asyncpg.Pool) -> dict[str, str]:
    return {r["event_id"]: r["person_id"] for r in await pool.fetch("SELECT * FROM holdings")}


async def test_merges_repoint_rows_to_the_final_survivor_and_later_events_follow_the_alias(
    nc: NATS, js: JetStreamContext, pool: asyncpg.Pool, stream: StreamSpec, tables: None
) -> None:
    holdings = await project(nc, js, pool, stream, [
        event("a", "e1"), event("b", "e2"), event("c", "e3"),
        merged("b", "a"),  # a's rows go to b, in the same batch as the events before it
        merged("c", "b"),  # and then to c: aliases always name the final survivor
        merged("c", "a"),  # already folded: nothing changes
        event("a", "e4"),  # still names a: lands on c
    ])  # fmt: skip

    assert await owners(pool) == {"e1": "c", "e2": "c", "e3": "c", "e4": "c"}
    async with pool.acquire() as conn:
        assert await canonical(conn, ["a", "b", "c", "d"]) == {"a": "c", "b": "c", "c": "c", "d": "d"}
    assert set().union(*holdings.changed) == {"a", "b", "c"}


async def test_a_split_moves_exactly_the_listed_events_of_the_persons_survivor(
    nc: NATS, js: JetStreamContext, pool: asyncpg.Pool, stream: StreamSpec, tables: None
) -> None:
    await project(nc, js, pool, stream, [
        event("a", "e1"), event("a", "e2"), event("b", "e3"), merged("a", "b"),
        split("b", "n", ["e1", "e3"]),  # names the merged id: applies to its survivor, a
    ])  # fmt: skip

    assert await owners(pool) == {"e1": "n", "e2": "a", "e3": "n"}
