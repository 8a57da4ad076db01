"""Ingest: one open stream, each request a batch, each answered in order with its batch_id."""

from __future__ import annotations

import grpc
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from nats.aio.client import Client as NATS

from tests.ingestion import helpers as h


def counts(response: pb.IngestResponse) -> tuple[int, int, int]:
    result = response.result
    return result.accepted, result.duplicates, result.rejected


async def test_several_batches_on_one_stream_are_answered_in_order_with_their_batch_ids(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    a, b, c = h.event(), h.event(), h.event()
    requests = [
        pb.IngestRequest(batch_id="first", events=[a, b]),
        pb.IngestRequest(batch_id="second", events=[c, h.event(anonymous_id=None)]),
        pb.IngestRequest(batch_id="third", events=[a, h.event(), c]),
    ]
    responses = await h.drain(api.Ingest(iter(requests), metadata=h.auth(write_key)))

    assert [r.batch_id for r in responses] == ["first", "second", "third"]
    assert [counts(r) for r in responses] == [(2, 0, 0), (1, 0, 1), (1, 2, 0)]
    third = responses[2].result.outcomes
    assert third[0].stream_sequence == responses[0].result.outcomes[0].stream_sequence
    assert third[2].stream_sequence == responses[1].result.outcomes[0].stream_sequence
    stored_ids = [s.event.event_id for s in await h.stored_since(nc, mark)]
    assert sorted(stored_ids) == sorted([a.event_id, b.event_id, c.event_id, requests[2].events[1].event_id])


async def test_each_batch_is_answered_before_the_next_is_sent(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    call = api.Ingest(metadata=h.auth(write_key))
    for number in range(3):
        await call.write(pb.IngestRequest(batch_id=f"b{number}", events=h.page_views(number + 1)))
        response = await call.read()
        assert (response.batch_id, response.result.accepted) == (f"b{number}", number + 1)
    await call.done_writing()

    assert await call.read() == grpc.aio.EOF
    assert await call.code() == grpc.StatusCode.OK


async def test_stream_outcomes_carry_index_and_violations_like_track_batch(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    bad = h.event(event_id="nope")
    request = pb.IngestRequest(batch_id="mixed", events=[h.event(), bad])
    (response,) = await h.drain(api.Ingest(iter([request]), metadata=h.auth(write_key)))

    rejected = response.result.outcomes[1]
    assert (rejected.index, rejected.event_id, rejected.status) == (1, "nope", pb.EVENT_STATUS_REJECTED)
    assert "event_id" in h.violations_of(rejected)


async def test_stream_without_a_key_is_unauthenticated(api: pb_grpc.IngestionServiceStub) -> None:
    # Nothing is sent: a client still writing when the server has refused the call may report
    # INTERNAL instead of the server's status (grpc/grpc#36066), as tests/auth found.
    error = await h.failure(h.drain(api.Ingest(iter([]))))

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert h.reason(error) == "CREDENTIALS_MISSING"


async def test_empty_batch_ends_the_stream_with_invalid_argument_after_earlier_answers(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    call = api.Ingest(metadata=h.auth(write_key))
    await call.write(pb.IngestRequest(batch_id="good", events=[h.event()]))
    assert (await call.read()).batch_id == "good"
    await call.write(pb.IngestRequest(batch_id="empty"))

    error = await h.failure(call.read())

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "events" in h.field_violations(error)


async def test_oversized_batch_on_the_stream_names_the_limit_of_500(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    request = pb.IngestRequest(batch_id="huge", events=h.page_views(501))
    error = await h.failure(h.drain(api.Ingest(iter([request]), metadata=h.auth(write_key))))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "500" in h.field_violations(error)["events"]


async def test_backfill_batch_on_the_stream_needs_the_backfill_scope(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    request = pb.IngestRequest(batch_id="history", events=[h.event(occurred_at=h.at(days=-30))], backfill=True)
    error = await h.failure(h.drain(api.Ingest(iter([request]), metadata=h.auth(write_key))))

    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
