"""What ingestion accepts, every projection can apply: hostile text is refused at the edge
with a field violation, and nothing a client hides in an unknown field is stored."""

from __future__ import annotations

import uuid

import grpc
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from nats.aio.client import Client as NATS

from tests import wire
from tests.ingestion import helpers as h

STREAM = "EVENTS"


def with_session(event: ev.Event, session_id: str) -> ev.Event:
    event.context.session_id = session_id
    return event


def with_device_type(event: ev.Event, device_type: str) -> ev.Event:
    event.context.device.type = device_type
    return event


BAD = {
    "context.session_id": lambda: with_session(h.event(), "s-\x001"),
    "context.device.type": lambda: with_device_type(h.event(), "mob\x00ile"),
    "page_viewed.category": lambda: h.event(page_viewed=ev.PageViewed(name="home", category="shoes\x00")),
    "identified.traits.city": lambda: h.event(identified=ev.Identified(traits=ev.Traits(city="Par\x00is"))),
    "identified.traits.custom['size']": lambda: h.event(
        identified=ev.Identified(traits=ev.Traits(custom={"size": "M\x00"}))
    ),
}


@pytest.mark.parametrize("field", list(BAD))
async def test_a_nul_anywhere_a_projection_stores_text_is_rejected_with_its_field(
    api: pb_grpc.IngestionServiceStub, write_key: str, field: str
) -> None:
    """These were accepted once, and profile then dead-lettered them: accepted events that
    never reached a profile."""
    result = await h.batch(api, write_key, [BAD[field](), h.event()])

    assert [o.status for o in result.outcomes] == [pb.EVENT_STATUS_REJECTED, pb.EVENT_STATUS_ACCEPTED]
    assert "U+0000" in h.violations_of(result.outcomes[0])[field]


async def test_track_with_an_out_of_range_time_is_invalid_argument_not_internal(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    event = h.event()
    event.occurred_at.seconds = 253_402_300_800  # year 10000

    error = await h.failure(h.track(api, write_key, event))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "event.occurred_at" in h.field_violations(error)


async def test_an_email_hidden_in_unknown_fields_never_reaches_the_log(
    channel: grpc.aio.Channel, write_key: str, nc: NATS
) -> None:
    tag = uuid.uuid4().hex[:8]
    secret = f"hidden.{tag}@example.com".encode()
    event = h.event(identified=ev.Identified(traits=ev.Traits(city="Lyon")))
    # An unknown field in the Event, and one inside Identified (Event.identified = 33).
    sent = event.SerializeToString() + wire.unknown(secret) + wire.field(33, wire.unknown(secret, number=77))
    track = channel.unary_unary(
        "/bullseye.ingestion.v1.IngestionService/Track",
        request_serializer=None,
        response_deserializer=pb.TrackResponse.FromString,
    )

    reply = await track(wire.field(1, sent), metadata=h.auth(write_key), timeout=10)  # TrackRequest.event = 1

    assert reply.outcome.status == pb.EVENT_STATUS_ACCEPTED
    stored = await nc.jetstream().get_msg(STREAM, reply.outcome.stream_sequence)
    assert secret not in (stored.data or b"")
    assert ev.Event.FromString(stored.data or b"").identified.traits.city == "Lyon"


async def test_an_event_with_hundreds_of_problems_lists_the_first_and_counts_the_rest(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    traits = ev.Traits(custom={f"k{i:02d}": f"v\x00{i}" for i in range(100)})
    result = await h.batch(api, write_key, [h.event(identified=ev.Identified(traits=traits))])

    [outcome] = result.outcomes
    *listed, rest = outcome.violations
    assert outcome.status == pb.EVENT_STATUS_REJECTED and 1 <= len(listed) <= 20
    assert (rest.field, rest.description.split()[0]) == ("", str(100 - len(listed)))


@pytest.mark.parametrize(
    ("trust", "stamped"),
    [("unverified", ev.SOURCE_TRUST_UNVERIFIED), ("verified", ev.SOURCE_TRUST_VERIFIED)],
)
async def test_the_keys_trust_is_stamped_on_every_event_it_sends(
    api: pb_grpc.IngestionServiceStub, ingestion_env: dict[str, str], nc: NATS, trust: str, stamped: int
) -> None:
    [key] = h.create_keys(ingestion_env, ["--source", f"till-{trust}", "--trust", trust])
    sent = h.event()
    sent.receipt.trust = ev.SOURCE_TRUST_VERIFIED  # a client's own receipt is ignored,
    sent.receipt.source = "forged\x00"  # not checked: ingestion sets it (set_by_server)

    outcome = await h.track(api, key, sent)

    stored = (await h.stored_at(nc, outcome.stream_sequence)).event
    assert (stored.receipt.source, stored.receipt.trust) == (f"till-{trust}", stamped)


async def test_a_key_whose_source_name_has_a_control_character_is_not_made(ingestion_env: dict[str, str]) -> None:
    with pytest.raises(AssertionError, match="U\\+0007"):
        h.create_keys(ingestion_env, ["--source", "till\x07"])
