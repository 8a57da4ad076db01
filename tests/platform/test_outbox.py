"""Transactional outbox: facts leave with the commit that caused them, and reach the log once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from bullseye_platform.eventlog import Appended, LogMessage, LogWriter, StreamSpec
from bullseye_platform.outbox import CHANNEL_PREFIX, OutboxRelay, emit, emit_many
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from opentelemetry.sdk.trace import TracerProvider

from tests.platform.waiting import running, wait_until


class Rollback(Exception):
    """Raised to roll a test transaction back."""


@pytest.fixture
async def relay(nc: NATS, js: JetStreamContext, pool: asyncpg.Pool) -> AsyncIterator[OutboxRelay]:
    writer = LogWriter(nc)
    yield OutboxRelay(pool=pool, writer=writer, batch_size=100, idle_poll=0.1)
    await writer.close()


async def emit_committed(pool: asyncpg.Pool, spec: StreamSpec, *msg_ids: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for msg_id in msg_ids:
            await emit(conn, subject=f"{spec.subject_prefix}.0.fact", payload=msg_id.encode(), msg_id=msg_id)


async def messages_in(js: JetStreamContext, spec: StreamSpec) -> int:
    return (await js.stream_info(spec.name)).state.messages


async def stored(js: JetStreamContext, spec: StreamSpec, count: int) -> None:
    async def enough() -> bool:
        return await messages_in(js, spec) == count

    await wait_until(enough, within=10)


async def pending_rows(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox"))


async def test_a_fact_emitted_in_a_rolled_back_transaction_is_never_published(
    pool: asyncpg.Pool, relay: OutboxRelay, js: JetStreamContext, stream: StreamSpec
) -> None:
    with pytest.raises(Rollback):
        async with pool.acquire() as conn, conn.transaction():
            await emit(conn, subject=f"{stream.subject_prefix}.0.fact", payload=b"x", msg_id="rolled-back")
            raise Rollback

    assert await relay.relay_once() == 0
    assert await pending_rows(pool) == 0
    assert await messages_in(js, stream) == 0


async def test_committed_facts_are_published_in_order_with_their_msg_id_then_deleted(
    pool: asyncpg.Pool, relay: OutboxRelay, js: JetStreamContext, stream: StreamSpec
) -> None:
    await emit_committed(pool, stream, "fact-1", "fact-2", "fact-3")

    assert await relay.relay_once() == 3

    assert await pending_rows(pool) == 0
    stored = [await js.get_msg(stream.name, seq) for seq in (1, 2, 3)]
    assert [m.headers["Nats-Msg-Id"] for m in stored if m.headers] == ["fact-1", "fact-2", "fact-3"]
    assert [m.data for m in stored] == [b"fact-1", b"fact-2", b"fact-3"]
    assert await relay.relay_once() == 0


async def test_a_fact_committed_after_a_later_one_was_relayed_is_relayed_by_the_next_batch(
    pool: asyncpg.Pool, relay: OutboxRelay, js: JetStreamContext, stream: StreamSpec
) -> None:
    """Ids are drawn at insert and committed in any order: a batch takes what its snapshot
    sees, and a lower id that commits afterwards is neither lost nor deleted unpublished."""
    async with pool.acquire() as slow, slow.transaction():
        await emit(slow, subject=f"{stream.subject_prefix}.0.fact", payload=b"slow", msg_id="slow")  # the lower id
        await emit_committed(pool, stream, "quick")

        assert await relay.relay_once() == 1
        assert await messages_in(js, stream) == 1
    assert await relay.relay_once() == 1

    assert await pending_rows(pool) == 0
    stored = [await js.get_msg(stream.name, seq) for seq in (1, 2)]
    assert [m.data for m in stored] == [b"quick", b"slow"]


async def test_a_fact_carries_the_trace_it_was_emitted_in_and_its_own_headers(
    pool: asyncpg.Pool, relay: OutboxRelay, js: JetStreamContext, stream: StreamSpec
) -> None:
    tracer = TracerProvider().get_tracer("tests")
    with tracer.start_as_current_span("segment entered") as span:
        async with pool.acquire() as conn, conn.transaction():
            await emit(
                conn, subject=f"{stream.subject_prefix}.0.fact", payload=b"{}", msg_id="traced", headers={"Kind": "x"}
            )
    await relay.relay_once()

    headers = (await js.get_msg(stream.name, 1)).headers or {}
    assert headers["Kind"] == "x"
    assert headers["traceparent"].split("-")[1] == format(span.get_span_context().trace_id, "032x")


async def test_a_fact_relayed_again_after_a_crash_before_its_delete_is_stored_once(
    pool: asyncpg.Pool, relay: OutboxRelay, js: JetStreamContext, stream: StreamSpec
) -> None:
    await emit_committed(pool, stream, "fact-a", "fact-b")
    await relay.relay_once()

    # A relay that published these rows but died before deleting them leaves them in the
    # outbox: the next relay publishes them again, under the same msg ids.
    await emit_committed(pool, stream, "fact-a", "fact-b", "fact-c")
    assert await relay.relay_once() == 3

    assert await pending_rows(pool) == 0
    assert await messages_in(js, stream) == 3


async def test_the_relay_moves_facts_as_they_are_committed(
    pool: asyncpg.Pool, relay: OutboxRelay, js: JetStreamContext, stream: StreamSpec
) -> None:
    async with running(relay.run):
        for batch in range(5):
            await emit_committed(pool, stream, *(f"live-{batch}-{i}" for i in range(40)))
        await stored(js, stream, 200)

    assert await messages_in(js, stream) == 200
    assert await pending_rows(pool) == 0


async def test_facts_emitted_together_are_published_in_order_with_their_own_headers(
    pool: asyncpg.Pool, relay: OutboxRelay, js: JetStreamContext, stream: StreamSpec
) -> None:
    facts = [
        LogMessage(subject=f"{stream.subject_prefix}.0.fact", payload=f"{n}".encode(), msg_id=f"many-{n}",
                   headers={"traceparent": f"00-{n:032x}-{n:016x}-01"})
        for n in range(1, 121)
    ]  # fmt: skip
    async with pool.acquire() as conn, conn.transaction():
        await emit_many(conn, facts)

    assert await relay.relay_once() == 100
    assert await relay.relay_once() == 20
    stored = [await js.get_msg(stream.name, seq) for seq in range(1, 121)]
    assert [(m.headers or {}).get("Nats-Msg-Id") for m in stored] == [f.msg_id for f in facts]
    assert [(m.headers or {}).get("traceparent") for m in stored] == [f.headers["traceparent"] for f in facts]


async def test_a_commit_wakes_the_relay_long_before_its_idle_poll(
    nc: NATS, pool: asyncpg.Pool, js: JetStreamContext, stream: StreamSpec
) -> None:
    writer = LogWriter(nc)
    await emit_committed(pool, stream, "before")  # committed before the relay listens: found by its first look
    try:
        async with running(OutboxRelay(pool=pool, writer=writer, idle_poll=3600).run):
            await stored(js, stream, 1)  # the relay has looked once; it looks again only when woken
            await emit_committed(pool, stream, "woken")
            await stored(js, stream, 2)
    finally:
        await writer.close()


async def test_facts_notify_only_their_own_schema_channel(pool: asyncpg.Pool, schema: str, stream: StreamSpec) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()

    def on_notify(_conn: object, _pid: int, channel: str, _payload: object) -> None:
        heard.put_nowait(channel)

    channels = (CHANNEL_PREFIX + schema, CHANNEL_PREFIX + "another_service")
    async with pool.acquire() as listener:
        for channel in channels:
            await listener.add_listener(channel, on_notify)
        await emit_committed(pool, stream, "mine")
        await emit_committed(pool, stream, "mine-too")
        got = [await asyncio.wait_for(heard.get(), 10) for _ in range(2)]
        for channel in channels:
            await listener.remove_listener(channel, on_notify)

    assert got == [CHANNEL_PREFIX + schema] * 2
    assert heard.empty()


class HeldWriter(LogWriter):
    """A writer whose appends wait until released: a relay caught in the middle of its batch."""

    def __init__(self, nc: NATS) -> None:
        super().__init__(nc)
        self.entered, self.release = asyncio.Event(), asyncio.Event()

    async def append(self, messages: Sequence[LogMessage]) -> list[Appended]:
        self.entered.set()
        await self.release.wait()
        return await super().append(messages)


async def test_while_one_relay_moves_rows_another_moves_none_so_facts_keep_their_order(
    nc: NATS, pool: asyncpg.Pool, js: JetStreamContext, stream: StreamSpec
) -> None:
    queued = [f"ordered-{n:02d}" for n in range(50)]
    await emit_committed(pool, stream, *queued)
    held, other = HeldWriter(nc), LogWriter(nc)
    first, second = (OutboxRelay(pool=pool, writer=w, batch_size=25) for w in (held, other))
    try:
        moving = asyncio.create_task(first.relay_once())
        await held.entered.wait()
        assert await second.relay_once() == 0, "the next batch would be published before the first"
        held.release.set()
        assert await moving == 25
        assert await second.relay_once() == 25
    finally:
        await held.close()
        await other.close()

    published = [await js.get_msg(stream.name, seq) for seq in range(1, len(queued) + 1)]
    assert [(m.headers or {}).get("Nats-Msg-Id") for m in published] == queued
