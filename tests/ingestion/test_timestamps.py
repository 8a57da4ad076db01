"""occurred_at: required, not in the future, inside the live window unless backfilled,
and corrected for the client's clock skew with sent_at."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client as NATS

from tests.conftest import create_key
from tests.ingestion import helpers as h

HOUR_MS = 3_600_000
# Generous bounds for the time a call takes; the assertions are about behaviour, not speed.
SLACK_MS = 60_000


@pytest.fixture(scope="module")
def backfill_key(ingestion_env: dict[str, str]) -> str:
    return create_key(ingestion_env, "--source", "history-loader", "--backfill")


def rejected_on(result: pb.BatchResult, field: str) -> str:
    (outcome,) = result.outcomes
    assert outcome.status == pb.EVENT_STATUS_REJECTED
    return h.violations_of(outcome)[field]


def nanos(ts: Timestamp) -> int:
    return int(ts.ToNanoseconds())


async def test_missing_occurred_at_is_rejected(api: pb_grpc.IngestionServiceStub, write_key: str) -> None:
    sent = h.event()
    sent.ClearField("occurred_at")

    assert "required" in rejected_on(await h.batch(api, write_key, [sent]), "occurred_at")


async def test_occurred_at_more_than_5_minutes_in_the_future_is_rejected(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    sent = h.event(occurred_at=h.at(seconds=600))

    assert "300s" in rejected_on(await h.batch(api, write_key, [sent]), "occurred_at")


async def test_occurred_at_slightly_in_the_future_is_tolerated(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    result = await h.batch(api, write_key, [h.event(occurred_at=h.at(seconds=120))])

    assert result.accepted == 1


async def test_event_older_than_the_7_day_live_window_is_rejected_pointing_to_backfill(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    description = rejected_on(await h.batch(api, write_key, [h.event(occurred_at=h.at(days=-8))]), "occurred_at")

    assert "7-day" in description and "backfill=true" in description


async def test_old_event_is_rejected_with_a_backfill_key_unless_backfill_is_asked(
    api: pb_grpc.IngestionServiceStub, backfill_key: str
) -> None:
    result = await h.batch(api, backfill_key, [h.event(occurred_at=h.at(days=-30))])

    assert result.rejected == 1


async def test_old_event_is_stored_as_history_with_backfill_and_a_backfill_key(
    api: pb_grpc.IngestionServiceStub, backfill_key: str, nc: NATS, mark: int
) -> None:
    sent = h.event(occurred_at=h.at(days=-400))
    result = await h.batch(api, backfill_key, [sent], backfill=True)

    assert result.accepted == 1
    stored = await h.stored_at(nc, result.outcomes[0].stream_sequence)
    assert stored.event.receipt.backfill
    assert stored.event.occurred_at == sent.occurred_at
    assert stored.event.receipt.source == "history-loader"


async def test_recent_event_sent_with_backfill_is_not_flagged_as_history(
    api: pb_grpc.IngestionServiceStub, backfill_key: str, nc: NATS, mark: int
) -> None:
    outcome = await h.track(api, backfill_key, h.event(occurred_at=h.at(days=-1)), backfill=True)

    assert not (await h.stored_at(nc, outcome.stream_sequence)).event.receipt.backfill


async def test_backfill_with_a_write_only_key_is_permission_denied(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    error = await h.failure(h.batch(api, write_key, [h.event(occurred_at=h.at(days=-30))], backfill=True))

    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "events:backfill" in error.details()
    assert h.reason(error) == "SCOPE_MISSING"
    assert await h.last_seq(nc) == mark


async def test_track_with_backfill_and_a_write_only_key_is_permission_denied(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    error = await h.failure(h.track(api, write_key, h.event(), backfill=True))

    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_client_clock_an_hour_behind_is_corrected_in_the_stored_event(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    behind = h.now() - timedelta(hours=1)
    sent = h.event(occurred_at=behind - timedelta(seconds=30))
    sent.sent_at.FromDatetime(behind)
    outcome = await h.track(api, write_key, sent)

    receipt = (stored := (await h.stored_at(nc, outcome.stream_sequence)).event).receipt
    assert receipt.client_occurred_at == sent.occurred_at
    assert HOUR_MS <= receipt.clock_skew_ms <= HOUR_MS + SLACK_MS
    assert (nanos(receipt.received_at) - nanos(sent.sent_at)) // 1_000_000 == receipt.clock_skew_ms
    shift_ms = (nanos(stored.occurred_at) - nanos(sent.occurred_at)) // 1_000_000
    assert shift_ms == receipt.clock_skew_ms
    assert stored.occurred_at.ToDatetime() < receipt.received_at.ToDatetime()


async def test_future_occurred_at_is_accepted_when_sent_at_shows_the_client_clock_is_ahead(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    ahead = h.now() + timedelta(hours=1)
    sent = h.event(occurred_at=ahead - timedelta(seconds=5))
    sent.sent_at.FromDatetime(ahead)
    outcome = await h.track(api, write_key, sent)

    receipt = (stored := (await h.stored_at(nc, outcome.stream_sequence)).event).receipt
    assert -HOUR_MS - SLACK_MS <= receipt.clock_skew_ms <= -HOUR_MS + SLACK_MS
    assert stored.occurred_at.ToDatetime() <= receipt.received_at.ToDatetime()


async def test_without_sent_at_occurred_at_is_stored_unchanged(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    sent = h.event(occurred_at=h.at(seconds=-30))
    outcome = await h.track(api, write_key, sent)

    stored = (await h.stored_at(nc, outcome.stream_sequence)).event
    assert stored.occurred_at == sent.occurred_at == stored.receipt.client_occurred_at
    assert stored.receipt.clock_skew_ms == 0


async def test_out_of_range_sent_at_is_rejected_not_a_server_error(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    bad, good = h.event(), h.event()
    bad.sent_at.seconds = 10**13
    result = await h.batch(api, write_key, [bad, good])

    assert [o.status for o in result.outcomes] == [pb.EVENT_STATUS_REJECTED, pb.EVENT_STATUS_ACCEPTED]
    assert "is out of range" in h.violations_of(result.outcomes[0])["sent_at"]


async def test_malformed_occurred_at_is_rejected_not_a_server_error(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    sent = h.event()
    sent.occurred_at.nanos = -5

    assert "has nanos -5" in rejected_on(await h.batch(api, write_key, [sent]), "occurred_at")


async def test_sent_at_so_far_off_that_correction_leaves_the_calendar_is_rejected(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    sent = h.event()
    sent.sent_at.FromJsonString("9999-12-31T00:00:00Z")

    assert "is out of range" in rejected_on(await h.batch(api, write_key, [sent]), "occurred_at")


async def test_track_of_an_event_with_a_malformed_timestamp_is_invalid_argument(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    sent = h.event()
    sent.sent_at.FromDatetime(h.now())
    sent.sent_at.nanos = 2_000_000_000
    error = await h.failure(h.track(api, write_key, sent))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "event.sent_at" in h.field_violations(error)
