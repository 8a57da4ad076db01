"""A trace started by the client continues through ingestion into the log."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from bullseye.events.v1 import event_pb2 as ev
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc

from tests import channels
from tests.conftest import create_key


async def test_client_trace_id_travels_into_the_stored_message_headers(ingestion, ingestion_env, nc):
    key = create_key(ingestion_env, "--source", "tracing")
    trace_id = uuid.uuid4().hex
    event = ev.Event(event_id=f"trace-{uuid.uuid4()}", identifiers=ev.Identifiers(user_id="u-trace"))
    event.occurred_at.FromDatetime(datetime.now(UTC))
    event.logged_in.method = "password"
    metadata = [("x-api-key", key), ("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01")]
    async with channels.channel(ingestion.address, caller=None) as channel:
        reply = await pb_grpc.IngestionServiceStub(channel).Track(pb.TrackRequest(event=event), metadata=metadata)

    stored = await nc.jetstream().get_msg("EVENTS", reply.outcome.stream_sequence)
    assert ev.Event.FromString(stored.data).event_id == event.event_id
    version, carried_trace, parent_span, _ = stored.headers["traceparent"].split("-")
    assert (version, carried_trace) == ("00", trace_id)
    assert parent_span != "00f067aa0ba902b7", "the server span, not the client's, is the parent"
