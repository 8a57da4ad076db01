"""Identity resolves till and call-centre events identified only by a loyalty card, an email
or a phone, and keeps what a hostile request says out of the graph."""

from __future__ import annotations

import asyncpg
import grpc
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ingestion_grpc
from google.rpc import error_details_pb2
from google.type.money_pb2 import Money

from tests.identity.graph_support import ResolvedLog
from tests.identity.test_vault import SMS, address_becomes, gave, person_of, send, uid, user_person
from tests.ingestion import helpers as h


def at_the_till(**identifiers: str) -> ev.Event:
    """An order at a store till, identified only by what the customer gave there."""
    price = Money(currency_code="EUR", units=30)
    item = ev.LineItem(product_id="sku-1", quantity=1, unit_price=price)
    sold = h.event(order_completed=ev.OrderCompleted(order_id=f"o-{uid()}", items=[item], revenue=price))
    sold.identifiers.CopyFrom(ev.Identifiers(**identifiers))
    return sold


async def test_a_till_order_by_phone_alone_reaches_the_person_who_gave_that_phone(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    user, number = f"u-{uid()}", f"+3360{uid()[:7].translate(str.maketrans('abcdef', '123456'))}"
    await send(front, key, gave(2, user=user, phone=number))
    member = await user_person(graph, user)
    order = at_the_till(phone=number)
    await send(front, key, order)

    await resolved.until_resolved([order])
    assert resolved.person_of(order) == member
    published = next(p.record.event.event for p in resolved.read if p.record.event.event.event_id == order.event_id)
    assert not published.identifiers.HasField("sealed") and not published.identifiers.phone


async def test_a_loyalty_card_is_an_identifier_shown_in_the_clear(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, key: str
) -> None:
    user, card = f"u-{uid()}", f"card-{uid()}"
    await send(front, key, gave(2, user=user, first_name="Member"))
    linked = gave(1, user=user)
    linked.identifiers.loyalty_id = card  # the app shows the member's card
    await send(front, key, linked, at_the_till(loyalty_id=card))
    member = await user_person(graph, user)

    assert await person_of(graph, pb.IDENTIFIER_TYPE_LOYALTY_ID, card) == member
    identities = await graph.GetIdentities(pb.GetIdentitiesRequest(person_id=member))
    cards = [i.identifier for i in identities.identities if i.identifier.type == pb.IDENTIFIER_TYPE_LOYALTY_ID]
    assert [(c.value, c.keyed_hash) for c in cards] == [(card, "")]


async def test_a_phone_given_at_the_till_becomes_a_contact_of_the_person(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, key: str
) -> None:
    card, number = f"card-{uid()}", f"+3361{uid()[:7].translate(str.maketrans('abcdef', '123456'))}"
    await send(front, key, at_the_till(loyalty_id=card, phone=number))
    member = await person_of(graph, pb.IDENTIFIER_TYPE_LOYALTY_ID, card)

    assert await address_becomes(graph, member, SMS, number) == number


async def test_an_email_only_order_has_no_address_in_identitys_tables(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, key: str, pg: asyncpg.Connection
) -> None:
    address = f"caller.{uid()}@example.com"
    await send(front, key, at_the_till(email=address))
    await person_of(graph, pb.IDENTIFIER_TYPE_EMAIL, address)

    rows = await pg.fetch("SELECT subject FROM identity.data_keys UNION ALL SELECT subject FROM identity.contacts")
    assert rows and all(address not in r["subject"] for r in rows)


async def test_a_nul_in_an_identifier_is_invalid_argument(graph: pb_grpc.IdentityServiceStub) -> None:
    ref = pb.IdentifierRef(type=pb.IDENTIFIER_TYPE_USER_ID, value="u-\x00")

    error = await h.failure(graph.Resolve(pb.ResolveRequest(identifiers=[ref])))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "U+0000" in h.field_violations(error)["identifiers[0].value"]


async def test_a_hundred_bad_identifiers_still_get_their_violations_back(graph: pb_grpc.IdentityServiceStub) -> None:
    refs = [pb.IdentifierRef(type=pb.IDENTIFIER_TYPE_EMAIL, value=f"not-an-email-{i}" * 10) for i in range(100)]

    error = await h.failure(graph.Resolve(pb.ResolveRequest(identifiers=refs)))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    [bad_request] = h.details(error, error_details_pb2.BadRequest)
    *listed, rest = bad_request.field_violations
    assert listed[0].field == "identifiers[0].value"
    assert (rest.field, rest.description.split()[0]) == ("", str(100 - len(listed)))
