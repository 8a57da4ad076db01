"""TrackBatch and Track: partial batches, request-level limits, and what Track answers."""

from __future__ import annotations

import grpc
from bullseye.events.v1 import event_pb2 as ev
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from google.rpc import error_details_pb2
from nats.aio.client import Client as NATS

from tests.ingestion import helpers as h

EVENT_LIMIT = 32 * 1024
REQUEST_LIMIT = 1024 * 1024


def sized_event(size: int) -> ev.Event:
    """A valid identify event whose serialized size is exactly `size` bytes (custom traits of
    at most 1,024 characters each fill it)."""
    built = h.event(identified=ev.Identified())
    custom = built.identified.traits.custom
    while built.ByteSize() < size:
        custom[f"trait-{len(custom):03d}"] = "x" * min(1024, size - built.ByteSize())
    last = f"trait-{len(custom) - 1:03d}"
    while built.ByteSize() > size:
        custom[last] = custom[last][:-1]
    built.event_id += "x" * (size - built.ByteSize())
    assert built.ByteSize() == size
    return built


# --- partial batches ----------------------------------------------------------------------


async def test_partial_batch_keeps_good_events_and_rejects_bad_ones_by_index(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    good = [h.event(), h.event()]
    no_ids = h.event(anonymous_id=None)
    bad_id = h.event(event_id="short")
    result = await h.batch(api, write_key, [good[0], no_ids, good[1], bad_id])

    assert (result.accepted, result.duplicates, result.rejected) == (2, 0, 2)
    assert [o.index for o in result.outcomes] == [0, 1, 2, 3]
    assert [o.event_id for o in result.outcomes] == [good[0].event_id, no_ids.event_id, good[1].event_id, "short"]
    statuses = [o.status for o in result.outcomes]
    assert statuses == [pb.EVENT_STATUS_ACCEPTED, pb.EVENT_STATUS_REJECTED] * 2
    assert set(h.violations_of(result.outcomes[1])) == {"identifiers"}
    assert set(h.violations_of(result.outcomes[3])) == {"event_id"}
    assert result.outcomes[1].stream_sequence == result.outcomes[3].stream_sequence == 0


async def test_accepted_events_are_in_the_stream_as_sent_and_rejected_ones_are_not(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    good, bad = h.event(), h.event(anonymous_id=None)
    result = await h.batch(api, write_key, [good, bad])

    stored = await h.stored_since(nc, mark)
    assert [s.event.event_id for s in stored] == [good.event_id]
    assert stored[0].seq == result.outcomes[0].stream_sequence
    assert stored[0].msg_id == good.event_id
    assert stored[0].subject.startswith("events.") and stored[0].subject.endswith(".page_viewed")
    assert h.without_receipt(stored[0].event) == good


async def test_a_batch_of_only_bad_events_answers_ok_and_stores_nothing(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    result = await h.batch(api, write_key, [h.event(anonymous_id=None), h.event(event_id="")])

    assert (result.accepted, result.rejected) == (0, 2)
    assert await h.last_seq(nc) == mark


# --- request and event size limits --------------------------------------------------------


async def test_batch_of_500_events_is_accepted_whole(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    result = await h.batch(api, write_key, h.page_views(500))

    assert result.accepted == 500
    assert len({o.stream_sequence for o in result.outcomes}) == 500
    assert await h.last_seq(nc) - mark == 500


async def test_batch_of_501_events_is_refused_naming_the_limit_of_500(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    error = await h.failure(h.batch(api, write_key, h.page_views(501)))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "500" in error.details()
    assert "500" in h.field_violations(error)["events"]
    assert await h.last_seq(nc) == mark


async def test_empty_batch_is_refused_with_a_violation_on_events(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    error = await h.failure(h.batch(api, write_key, []))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "events" in h.field_violations(error)


async def test_event_over_32_kib_is_rejected_alone_naming_the_limit(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    big, small = sized_event(EVENT_LIMIT + 1), h.event()
    result = await h.batch(api, write_key, [small, big])

    assert (result.accepted, result.rejected) == (1, 1)
    rejected = result.outcomes[1]
    assert (rejected.index, rejected.event_id, rejected.status) == (1, big.event_id, pb.EVENT_STATUS_REJECTED)
    assert any(str(EVENT_LIMIT) in v.description and "32 KiB" in v.description for v in rejected.violations)
    assert [s.event.event_id for s in await h.stored_since(nc, mark)] == [small.event_id]


async def test_event_of_exactly_32_kib_is_accepted(api: pb_grpc.IngestionServiceStub, write_key: str) -> None:
    result = await h.batch(api, write_key, [sized_event(EVENT_LIMIT)])

    assert result.accepted == 1


async def test_request_over_1_mib_is_refused_with_resource_exhausted_naming_the_limit(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    events = [sized_event(30 * 1024) for _ in range(40)]
    error = await h.failure(h.batch(api, write_key, events))

    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert str(REQUEST_LIMIT) in error.details()
    quota = h.detail(error, error_details_pb2.QuotaFailure)
    assert str(REQUEST_LIMIT) in quota.violations[0].description
    assert await h.last_seq(nc) == mark


# --- Track --------------------------------------------------------------------------------


async def test_track_of_a_good_event_is_accepted_and_stored(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    sent = h.event()
    outcome = await h.track(api, write_key, sent)

    assert (outcome.status, outcome.event_id, outcome.index) == (pb.EVENT_STATUS_ACCEPTED, sent.event_id, 0)
    stored = await h.stored_at(nc, outcome.stream_sequence)
    assert h.without_receipt(stored.event) == sent


async def test_track_repeat_of_the_same_event_is_duplicate_with_the_first_sequence(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    sent = h.event()
    first = await h.track(api, write_key, sent)
    again = await h.track(api, write_key, sent)

    assert again.status == pb.EVENT_STATUS_DUPLICATE
    assert again.stream_sequence == first.stream_sequence
    assert len(await h.copies(nc, mark, sent.event_id)) == 1


async def test_track_of_a_bad_event_fails_with_violations_under_the_event_path(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    bad = h.event(anonymous_id=None, review_submitted=ev.ReviewSubmitted(product_id="p1", rating=0))
    error = await h.failure(h.track(api, write_key, bad))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad.event_id in error.details()
    violations = h.field_violations(error)
    assert set(violations) == {"event.identifiers", "event.review_submitted.rating"}
    assert all(path.startswith("event.") for path in violations)
    assert await h.last_seq(nc) == mark


async def test_track_of_an_oversized_event_fails_naming_the_limit(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    error = await h.failure(h.track(api, write_key, sized_event(EVENT_LIMIT + 100)))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert str(EVENT_LIMIT) in h.field_violations(error)["event"]


async def test_track_without_an_event_is_refused_with_a_violation_on_event(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    error = await h.failure(api.Track(pb.TrackRequest(), metadata=h.auth(write_key)))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "event" in h.field_violations(error)
