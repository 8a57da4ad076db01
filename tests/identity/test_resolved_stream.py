"""What identity publishes on RESOLVED: one record per event, in order per person, without
personal data, never twice for one event id; and clusters that do not depend on the order
in which conflict-free events arrive."""

from __future__ import annotations

import random
from collections import defaultdict

from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ipb_grpc
from bullseye_platform.eventlog import partition_of
from nats.aio.client import Client as NATS

from tests.identity.graph_support import (
    ANON,
    DEVICE,
    EMAIL,
    USER,
    ResolvedLog,
    event,
    identified,
    ref,
    resolve,
    send,
    uid,
    unique_phone,
)

PARTITIONS = 4  # IDENTITY_PARTITIONS of the test environment (tests/conftest.py)


def trace_id(headers: dict[str, str]) -> str:
    """The trace id of a W3C traceparent header ("00-<trace id>-<span id>-<flags>")."""
    parts = headers.get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 else ""


async def test_each_event_is_published_once_in_order_without_personal_data(
    nc: NATS, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    email, phone, name = f"{uid('jo')}@example.org", unique_phone(), uid("Jo")
    anon, user = uid("anon"), uid("user")
    journey = [
        event(anon=anon, minutes_ago=5),
        identified(anon=anon, email=email, phone=phone, first_name=name),
        event(anon=anon, user=user, logged_in=ev.LoggedIn()),
        event(user=user, cart_item_added=ev.CartItemAdded(cart_id=uid("cart"), product_id="sku-1", quantity=1)),
    ]
    await send(front, key, journey)
    published = [p for p in await resolved.until_resolved(journey) if p.kind == "event"]

    person = resolved.person_of(journey[0])
    assert [p.record.event.event.event_id for p in published] == [e.event_id for e in journey]
    sequences = [p.record.event.events_sequence for p in published]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(journey)
    for sent, p in zip(journey, published, strict=True):
        kind = sent.WhichOneof("payload")
        assert p.subject == f"resolved.{partition_of(person, PARTITIONS)}.{kind}"
        assert p.msg_id == f"resolved:{sent.event_id}"
        assert p.record.event.person_id == person
        events_copy = await nc.jetstream().get_msg("EVENTS", p.record.event.events_sequence)
        assert trace_id(p.headers) == trace_id(events_copy.headers or {}) != "", "the trace continues"
    stored = published[1].record.event.event.identified
    assert not stored.HasField("personal") and not stored.HasField("sealed_personal")
    raw = b"".join(p.record.SerializeToString() for p in published)
    for secret in (email, phone, name):
        assert secret.encode() not in raw


async def test_an_event_id_stored_again_after_the_duplicate_window_is_resolved_once(
    nc: NATS, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    once = event(anon=uid("anon"))
    once.receipt.source = "replayed-by-hand"
    js = nc.jetstream()
    for copy in ("first-copy", "second-copy"):  # as if the copies were further apart than the window
        await js.publish(
            "events.0.page_viewed", once.SerializeToString(), headers={"Nats-Msg-Id": f"{copy}:{once.event_id}"}
        )
    after = event(anon=uid("anon"))
    await send(front, key, [after])
    published = await resolved.until_resolved([once, after])

    copies = [p for p in published if p.kind == "event" and p.record.event.event.event_id == once.event_id]
    assert len(copies) == 1


def journeys(tag: str) -> dict[str, ev.Event]:
    """Cross-device journeys of three shoppers and one stranger, by label; no conflicts."""
    events: dict[str, ev.Event] = {}
    for k in range(3):
        phone, device, laptop, tablet = (f"{tag}-{k}-{x}" for x in ("phone", "device", "laptop", "tablet"))
        user, email = f"{tag}-{k}-user", f"{tag}-{k}@example.net"
        events |= {
            f"{k}:phone": event(anon=phone, device=device),
            f"{k}:laptop": event(anon=laptop),
            f"{k}:laptop-login": event(anon=laptop, user=user, logged_in=ev.LoggedIn()),
            f"{k}:phone-login": event(anon=phone, device=device, user=user, logged_in=ev.LoggedIn()),
            f"{k}:tablet": event(anon=tablet),
            f"{k}:tablet-email": identified(anon=tablet, email=email),
            f"{k}:store": identified(user=user, email=email),
        }
    events["stranger"] = event(anon=f"{tag}-stranger")
    return events


def top_identifier(one: ev.Event) -> pb.IdentifierRef:
    ids = one.identifiers
    if ids.user_id:
        return ref(USER, ids.user_id)
    return ref(DEVICE, ids.device_id) if ids.device_id else ref(ANON, ids.anonymous_id)


async def clusters(graph: pb_grpc.IdentityServiceStub, labelled: dict[str, ev.Event]) -> set[frozenset[str]]:
    """The labels grouped by the person each event's top identifier resolves to now."""
    by_person: dict[str, set[str]] = defaultdict(set)
    for label, one in labelled.items():
        by_person[await resolve(graph, top_identifier(one))].add(label)
    return {frozenset(labels) for labels in by_person.values()}


async def test_the_same_journeys_in_another_order_give_the_same_clusters(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    in_order, shuffled = journeys(uid("a")), journeys(uid("b"))
    mixed = list(shuffled.values())
    random.Random(7).shuffle(mixed)
    await send(front, key, list(in_order.values()))
    await send(front, key, mixed)
    await resolved.until_resolved([*in_order.values(), *mixed])

    expected = {frozenset(label for label in in_order if label.startswith(f"{k}:")) for k in range(3)}
    assert await clusters(graph, in_order) == expected | {frozenset({"stranger"})}
    assert await clusters(graph, shuffled) == await clusters(graph, in_order)
    email = in_order["0:store"].identified.personal.email
    assert await resolve(graph, ref(EMAIL, email)) == await resolve(graph, top_identifier(in_order["0:phone"]))
