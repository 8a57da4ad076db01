"""Events from a till or a call centre: identified only by a loyalty card, an email or a
phone. The email and phone are sealed like personal data (never in the clear on EVENTS),
under a subject named by the contact point itself."""

from __future__ import annotations

import uuid

import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from bullseye_devtools.stack.services import ServiceProcess
from bullseye_platform import sealing
from nats.aio.client import Client as NATS

from tests.ingestion import helpers as h
from tests.profile.support import usd


def store_order(**identifiers: str) -> ev.Event:
    """An order at a till, identified only by what the customer gave there."""
    item = ev.LineItem(product_id="sku-1", quantity=1, unit_price=usd(20))
    order = h.event(order_completed=ev.OrderCompleted(order_id=f"o-{uuid.uuid4()}", items=[item], revenue=usd(20)))
    order.identifiers.CopyFrom(ev.Identifiers(**identifiers))
    order.context.channel = ev.CHANNEL_STORE
    order.context.locale = "fr-FR"
    return order


async def test_an_order_identified_only_by_a_phone_is_stored_with_the_phone_sealed(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, identity: ServiceProcess
) -> None:
    number = f"6{uuid.uuid4().int % 10**8:08d}"  # a French mobile, given in national form
    outcome = await h.track(api, write_key, store_order(phone=f"0{number}"))

    stored = await nc.jetstream().get_msg("EVENTS", outcome.stream_sequence)
    assert number.encode() not in (stored.data or b"")
    event = ev.Event.FromString(stored.data or b"")
    assert (event.identifiers.phone, event.identifiers.email) == ("", "")
    key = await h.data_key(identity.address, f"phone:+33{number}")
    assert event.identifiers.sealed.key_id == key.key_id
    assert sealing.open_contact(event.identifiers.sealed, key, event.event_id) == ev.PersonalData(phone=f"+33{number}")


async def test_an_order_identified_only_by_an_email_is_sealed_under_the_normalized_address(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, identity: ServiceProcess
) -> None:
    address = f"member.{uuid.uuid4().hex[:8]}@example.com"
    outcome = await h.track(api, write_key, store_order(email=f"  {address.upper()} "))

    event = (await h.stored_at(nc, outcome.stream_sequence)).event
    key = await h.data_key(identity.address, f"email:{address}")
    assert sealing.open_contact(event.identifiers.sealed, key, event.event_id).email == address


async def test_a_loyalty_card_alone_identifies_an_event_and_stays_in_the_clear(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS
) -> None:
    card = f"card-{uuid.uuid4().hex[:10]}"
    outcome = await h.track(api, write_key, store_order(loyalty_id=card))

    event = (await h.stored_at(nc, outcome.stream_sequence)).event
    assert event.identifiers.loyalty_id == card and not event.identifiers.HasField("sealed")


async def test_with_a_user_id_the_identifying_email_is_sealed_under_the_user(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, identity: ServiceProcess
) -> None:
    user, address = f"u-{uuid.uuid4().hex[:8]}", f"m.{uuid.uuid4().hex[:8]}@example.com"
    outcome = await h.track(api, write_key, store_order(user_id=user, email=address))

    event = (await h.stored_at(nc, outcome.stream_sequence)).event
    key = await h.data_key(identity.address, f"user:{user}")
    assert sealing.open_contact(event.identifiers.sealed, key, event.event_id).email == address


@pytest.mark.parametrize(
    ("identifiers", "field", "says"),
    [
        ({"device_id": "till-7"}, "identifiers", "loyalty_id, email and phone"),
        ({"phone": "12"}, "identifiers.phone", "phone number"),
        ({"email": "not-an-address"}, "identifiers.email", "not a valid email"),
    ],
)
async def test_an_event_without_a_usable_identifier_is_rejected(
    api: pb_grpc.IngestionServiceStub, write_key: str, identifiers: dict[str, str], field: str, says: str
) -> None:
    result = await h.batch(api, write_key, [store_order(**identifiers)])

    assert result.outcomes[0].status == pb.EVENT_STATUS_REJECTED
    assert says in h.violations_of(result.outcomes[0])[field]


async def test_sealed_identifiers_sent_by_a_client_are_dropped(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS
) -> None:
    forged = store_order(loyalty_id=f"card-{uuid.uuid4().hex[:8]}")
    forged.identifiers.sealed.CopyFrom(ev.SealedData(key_id="dk_forged", nonce=b"n" * 12, ciphertext=b"c" * 32))

    outcome = await h.track(api, write_key, forged)

    assert not (await h.stored_at(nc, outcome.stream_sequence)).event.identifiers.HasField("sealed")
