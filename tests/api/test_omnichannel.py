"""Omnichannel end to end (ingestion -> identity -> profile): orders taken at a store till or
by a call centre, identified only by a phone, an email or a loyalty card, reach the profile
of the member who gave them earlier in the app."""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as id_pb
from bullseye.ingestion.v1 import ingestion_pb2 as in_pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as in_grpc
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye_devtools.stack.services import ServiceProcess

from tests import channels
from tests.ingestion import helpers as h
from tests.platform.waiting import wait_until
from tests.profile.support import ProfileUnderTest, usd


def member_signs_up(user: str, *, phone: str, email: str, card: str) -> list[ev.Event]:
    """In the app: the member gives a phone and an email, and the app shows their card."""
    signed = h.event(identified=ev.Identified(personal=ev.PersonalData(phone=phone, email=email)))
    carded = h.event(logged_in=ev.LoggedIn(method="password"))
    for event, minutes in ((signed, 30), (carded, 29)):
        event.identifiers.CopyFrom(ev.Identifiers(user_id=user, anonymous_id=f"app-{uuid.uuid4().hex[:8]}"))
        event.occurred_at.FromDatetime(h.now() - timedelta(minutes=minutes))
    carded.identifiers.loyalty_id = card
    return [signed, carded]


def order(amount: float, minutes_ago: int, **identifiers: str) -> ev.Event:
    item = ev.LineItem(product_id="sku-1", quantity=1, unit_price=usd(amount), category="kitchen")
    sold = h.event(
        order_completed=ev.OrderCompleted(order_id=f"o-{uuid.uuid4()}", items=[item], revenue=usd(amount)),
        occurred_at=h.now() - timedelta(minutes=minutes_ago),
    )
    sold.identifiers.CopyFrom(ev.Identifiers(**identifiers))
    sold.context.channel = ev.CHANNEL_STORE
    sold.context.locale = "fr-FR"  # the till reads national numbers as French ones
    return sold


async def orders_of(profile: ProfileUnderTest, ref: id_pb.IdentifierRef) -> pb.Profile | None:
    try:
        return (await profile.api.GetProfile(pb.GetProfileRequest(identifier=ref))).profile
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND, exc
        return None


async def test_store_and_call_centre_orders_reach_the_members_profile(
    ingestion: ServiceProcess, profile: ProfileUnderTest, till_key: str
) -> None:
    user, tag = f"member-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:6]
    number = f"6{int(tag, 16) % 10**8:08d}"
    email, card = f"member.{tag}@example.com", f"card-{tag}"
    async with channels.channel(ingestion.address, caller=None) as opened:  # the till's key, per call
        front = in_grpc.IngestionServiceStub(opened)
        for event in [
            *member_signs_up(user, phone=f"+33{number}", email=email, card=card),
            order(20, 20, phone=f"0{number}"),  # the till: "your phone number, please?"
            order(30, 10, email=email.upper()),  # the call centre
            order(50, 5, loyalty_id=card),  # the card scanned at another store
        ]:
            assert (await h.track(front, till_key, event)).status == in_pb.EVENT_STATUS_ACCEPTED

    by_user = id_pb.IdentifierRef(type=id_pb.IDENTIFIER_TYPE_USER_ID, value=user)

    async def three_orders() -> bool:
        found = await orders_of(profile, by_user)
        return found is not None and found.value.orders == 3

    await wait_until(three_orders, within=60, every=0.1)
    member = await orders_of(profile, by_user)
    assert member is not None and member.value.revenue == 100.0
    for ref in (
        id_pb.IdentifierRef(type=id_pb.IDENTIFIER_TYPE_PHONE, value=f"+33{number}"),
        id_pb.IdentifierRef(type=id_pb.IDENTIFIER_TYPE_EMAIL, value=email),
        id_pb.IdentifierRef(type=id_pb.IDENTIFIER_TYPE_LOYALTY_ID, value=card),
    ):
        found = await orders_of(profile, ref)
        assert found is not None and found.person_id == member.person_id, ref
