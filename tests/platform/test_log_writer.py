"""LogWriter: durable, idempotent group-commit appends against a real JetStream stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from bullseye_platform.eventlog import AppendError, LogMessage, LogWriter, StreamSpec, ensure_stream
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext


def message(spec: StreamSpec, msg_id: str, partition: int = 0) -> LogMessage:
    return LogMessage(subject=f"{spec.subject_prefix}.{partition}.test", payload=msg_id.encode(), msg_id=msg_id)


async def stored_ids(js: JetStreamContext, spec: StreamSpec, seqs: list[int]) -> dict[int, str]:
    """The Nats-Msg-Id stored at each of `seqs`."""
    found = await asyncio.gather(*(js.get_msg(spec.name, seq) for seq in seqs))
    return {msg.seq: msg.headers["Nats-Msg-Id"] for msg in found if msg.headers and msg.seq is not None}


async def message_count(js: JetStreamContext, spec: StreamSpec) -> int:
    return (await js.stream_info(spec.name)).state.messages


@pytest.fixture(params=[True, False], ids=["atomic", "per-message"])
async def writer(request: pytest.FixtureRequest, nc: NATS, js: JetStreamContext) -> AsyncIterator[LogWriter]:
    writer = LogWriter(nc, max_batch=64, max_in_flight=4, atomic=request.param)
    yield writer
    await writer.close()


async def test_concurrent_callers_get_contiguous_unique_sequences_and_each_message_lands_once(
    writer: LogWriter, js: JetStreamContext, stream: StreamSpec
) -> None:
    callers, per_caller = 40, 25
    batches = [[message(stream, f"c{c}-m{m}", partition=c % 4) for m in range(per_caller)] for c in range(callers)]

    results = await asyncio.gather(*(writer.append(batch) for batch in batches))

    total = callers * per_caller
    seqs = [appended.seq for result in results for appended in result]
    assert sorted(seqs) == list(range(1, total + 1))
    assert not any(appended.duplicate for result in results for appended in result)
    assert await message_count(js, stream) == total
    expected = {
        a.seq: m.msg_id
        for batch, result in zip(batches, results, strict=True)
        for m, a in zip(batch, result, strict=True)
    }
    assert await stored_ids(js, stream, seqs) == expected


async def test_one_append_larger_than_a_batch_spans_batches_and_answers_in_order(
    writer: LogWriter, js: JetStreamContext, stream: StreamSpec
) -> None:
    batch = [message(stream, f"big-{m}") for m in range(150)]  # the writer's batches hold 64

    result = await writer.append(batch)

    assert [a.seq for a in result] == list(range(1, 151))
    assert await stored_ids(js, stream, [a.seq for a in result]) == {
        a.seq: m.msg_id for m, a in zip(batch, result, strict=True)
    }


async def test_a_batch_with_an_already_stored_id_stores_the_others_and_reports_only_that_one_duplicate(
    writer: LogWriter, js: JetStreamContext, stream: StreamSpec
) -> None:
    [original] = await writer.append([message(stream, "seen")])

    before, again, after = await writer.append(
        [message(stream, "fresh-1"), message(stream, "seen"), message(stream, "fresh-2")]
    )

    assert again.duplicate and again.seq == original.seq
    assert not before.duplicate and not after.duplicate
    assert await message_count(js, stream) == 3
    assert await stored_ids(js, stream, [original.seq, before.seq, after.seq]) == {
        original.seq: "seen",
        before.seq: "fresh-1",
        after.seq: "fresh-2",
    }


async def test_the_same_id_twice_in_one_append_is_stored_once(
    writer: LogWriter, js: JetStreamContext, stream: StreamSpec
) -> None:
    first, second = await writer.append([message(stream, "twin"), message(stream, "twin")])

    assert not first.duplicate
    assert second.duplicate and second.seq == first.seq
    assert await message_count(js, stream) == 1


async def test_a_retried_append_stores_nothing_new(writer: LogWriter, js: JetStreamContext, stream: StreamSpec) -> None:
    batch = [message(stream, f"retry-{i}") for i in range(10)]
    first = await writer.append(batch)

    second = await writer.append(batch)

    assert all(a.duplicate for a in second)
    assert [a.seq for a in second] == [a.seq for a in first]
    assert await message_count(js, stream) == 10


async def test_an_empty_append_returns_nothing(writer: LogWriter) -> None:
    assert await writer.append([]) == []


async def test_an_append_no_stream_captures_raises_append_error(writer: LogWriter, token: str) -> None:
    stray = [LogMessage(subject=f"nowhere{token}.0.x", payload=b"", msg_id=f"stray-{i}") for i in range(2)]

    with pytest.raises(AppendError):
        await writer.append(stray)


async def test_an_atomic_batch_the_stream_refuses_raises_append_error(
    nc: NATS, js: JetStreamContext, stream: StreamSpec
) -> None:
    writer = LogWriter(nc, timeout=2.0)
    too_big = LogMessage(
        subject=f"{stream.subject_prefix}.0.big", payload=b"x" * (stream.max_msg_size + 1), msg_id="big"
    )

    with pytest.raises(AppendError):
        await writer.append([message(stream, "small"), too_big])
    await writer.close()

    assert await message_count(js, stream) == 0


async def test_a_message_the_stream_refuses_fails_the_append_with_the_servers_reason(
    nc: NATS, js: JetStreamContext, stream: StreamSpec
) -> None:
    writer = LogWriter(nc, atomic=False, timeout=30.0)
    too_big = LogMessage(
        subject=f"{stream.subject_prefix}.0.big", payload=b"x" * (stream.max_msg_size + 1), msg_id="big"
    )

    with pytest.raises(AppendError, match=r"stream refused message big: .*message size exceeds maximum"):
        await writer.append([too_big])
    await writer.close()


async def test_ensure_stream_is_idempotent_and_applies_a_changed_duplicate_window(
    js: JetStreamContext, stream: StreamSpec, nc: NATS
) -> None:
    writer = LogWriter(nc)
    await writer.append([message(stream, "kept")])
    await writer.close()

    again = await ensure_stream(js, stream)
    changed = await ensure_stream(
        js, StreamSpec(name=stream.name, subject_prefix=stream.subject_prefix, duplicate_window=30.0)
    )

    assert again.config.duplicate_window == pytest.approx(stream.duplicate_window)
    assert again.config.subjects == stream.subjects
    assert changed.config.duplicate_window == pytest.approx(30.0)
    assert (await js.stream_info(stream.name)).config.duplicate_window == pytest.approx(30.0)
    assert await message_count(js, stream) == 1
