"""Idempotent append: an event_id is stored once, whichever call or batch repeats it."""

from __future__ import annotations

from bullseye.events.v1 import event_pb2 as ev
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from nats.aio.client import Client as NATS

from tests.ingestion import helpers as h


async def test_duplicate_event_id_in_one_batch_is_counted_not_stored(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    a, b = h.event(), h.event()
    result = await h.batch(api, write_key, [a, b, a])

    assert (result.accepted, result.duplicates, result.rejected) == (2, 1, 0)
    first, _, repeat = result.outcomes
    assert (repeat.index, repeat.event_id, repeat.status) == (2, a.event_id, pb.EVENT_STATUS_DUPLICATE)
    assert repeat.stream_sequence == first.stream_sequence
    copies = await h.copies(nc, mark, a.event_id)
    assert [c.seq for c in copies] == [first.stream_sequence]


async def test_duplicate_in_one_batch_keeps_the_first_copy(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    first = h.event()
    second = h.event(event_id=first.event_id, searched=ev.Searched(query="boots"))
    await h.batch(api, write_key, [first, second])

    (stored,) = await h.copies(nc, mark, first.event_id)
    assert stored.event.WhichOneof("payload") == "page_viewed"


async def test_event_id_sent_again_in_a_later_batch_is_duplicate_with_the_stored_sequence(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    a = h.event()
    earlier = await h.batch(api, write_key, [a, h.event()])
    later = await h.batch(api, write_key, [h.event(), a])

    assert (later.accepted, later.duplicates) == (1, 1)
    assert later.outcomes[1].status == pb.EVENT_STATUS_DUPLICATE
    assert later.outcomes[1].stream_sequence == earlier.outcomes[0].stream_sequence
    assert len(await h.copies(nc, mark, a.event_id)) == 1


async def test_retried_batch_is_all_duplicates_and_stores_nothing_new(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    events = h.page_views(5)
    first = await h.batch(api, write_key, events)
    after_first = await h.last_seq(nc)
    retry = await h.batch(api, write_key, events)

    assert (retry.accepted, retry.duplicates) == (0, 5)
    assert [o.stream_sequence for o in retry.outcomes] == [o.stream_sequence for o in first.outcomes]
    assert await h.last_seq(nc) == after_first


async def test_event_tracked_alone_then_in_a_batch_is_stored_once(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    a = h.event()
    tracked = await h.track(api, write_key, a)
    result = await h.batch(api, write_key, [a])

    assert result.outcomes[0].status == pb.EVENT_STATUS_DUPLICATE
    assert result.outcomes[0].stream_sequence == tracked.stream_sequence
    assert len(await h.copies(nc, mark, a.event_id)) == 1


async def test_event_in_a_batch_then_tracked_alone_is_duplicate(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    a = h.event()
    result = await h.batch(api, write_key, [h.event(), a])
    tracked = await h.track(api, write_key, a)

    assert tracked.status == pb.EVENT_STATUS_DUPLICATE
    assert tracked.stream_sequence == result.outcomes[1].stream_sequence


async def test_rejected_copy_does_not_hide_a_valid_copy_of_the_same_id(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    good = h.event()
    bad = h.event(event_id=good.event_id, anonymous_id=None)
    result = await h.batch(api, write_key, [bad, good])

    assert [o.status for o in result.outcomes] == [pb.EVENT_STATUS_REJECTED, pb.EVENT_STATUS_ACCEPTED]
    (stored,) = await h.copies(nc, mark, good.event_id)
    assert stored.seq == result.outcomes[1].stream_sequence


async def test_rejected_event_can_be_fixed_and_sent_again_with_the_same_id(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    fixed = h.event()
    broken = h.event(event_id=fixed.event_id, anonymous_id=None)
    first = await h.batch(api, write_key, [broken])
    second = await h.batch(api, write_key, [fixed])

    assert first.outcomes[0].status == pb.EVENT_STATUS_REJECTED
    assert second.outcomes[0].status == pb.EVENT_STATUS_ACCEPTED
    assert len(await h.copies(nc, mark, fixed.event_id)) == 1
