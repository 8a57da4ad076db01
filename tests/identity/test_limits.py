"""Limits and blocked values: shared devices, logout/login on one browser, bogus ids from
buggy SDKs and values seen on too many persons never glue strangers together."""

from __future__ import annotations

import uuid

import grpc
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ipb_grpc

from tests.identity.graph_support import (
    ANON,
    DEVICE,
    PHONE,
    USER,
    ResolvedLog,
    event,
    history,
    identified,
    ref,
    resolve,
    resolve_fails,
    send,
    uid,
)


async def test_two_user_ids_on_a_shared_device_never_merge(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    device, mum, son = uid("device"), uid("user"), uid("user")
    journey = [event(user=mum, device=device), event(user=son, device=device)]
    await send(front, key, journey)
    await resolved.until_resolved(journey)

    mums, sons = resolved.person_of(journey[0]), resolved.person_of(journey[1])
    assert mums != sons
    assert resolved.merges() == []
    assert await resolve(graph, ref(DEVICE, device)) == mums, "the device stays with its first person"
    [conflict] = await history(graph, sons)
    assert (conflict.kind, conflict.other_person_id, conflict.rule) == (
        pb.HISTORY_ENTRY_KIND_CONFLICT, mums, "limit:user_id=1"
    )  # fmt: skip
    assert conflict.cause_event_id == journey[1].event_id


async def test_a_second_user_logging_in_on_one_browser_gets_a_person_of_their_own(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    browser, first, second = uid("anon"), uid("user"), uid("user")
    journey = [
        event(anon=browser, user=first, logged_in=ev.LoggedIn()),
        event(anon=browser, user=first, logged_out=ev.LoggedOut()),
        event(anon=browser, user=second, logged_in=ev.LoggedIn()),
        event(anon=browser, user=second, product_viewed=ev.ProductViewed(product_id="sku-9")),
        event(anon=browser),
    ]
    await send(front, key, journey)
    await resolved.until_resolved(journey)

    firsts, seconds = resolved.person_of(journey[0]), resolved.person_of(journey[2])
    assert firsts != seconds
    assert [resolved.person_of(e) for e in journey] == [firsts, firsts, seconds, seconds, firsts]
    assert await resolve(graph, ref(USER, second)) == seconds
    assert await resolve(graph, ref(ANON, browser)) == firsts, "the shared cookie stays where it was"
    conflicts = await history(graph, firsts)
    assert [(h.rule, h.other_person_id) for h in conflicts] == [("limit:user_id=1", seconds)], "once, not per event"


async def test_devices_past_the_limit_are_not_attached(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    user = uid("user")
    devices = [uid("device") for _ in range(11)]
    journey = [event(user=user, device=d) for d in devices]
    await send(front, key, journey)
    await resolved.until_resolved(journey)

    person = resolved.person_of(journey[0])
    assert {resolved.person_of(e) for e in journey} == {person}, "the user id decides the person"
    for device in devices[:10]:
        assert await resolve(graph, ref(DEVICE, device)) == person
    assert await resolve_fails(graph, ref(DEVICE, devices[10])) == grpc.StatusCode.NOT_FOUND
    [conflict] = await history(graph, person)
    assert (conflict.rule, conflict.other_person_id) == ("limit:device_id=10", "")


BOGUS = [
    "0", "-1", "null", "NULL", "None", "nil", "undefined", "anonymous", "Unknown", "guest", "test",
    "00000000-0000-0000-0000-000000000000", "xxxxxxxx", "11111111",
]  # fmt: skip


@pytest.mark.parametrize("bogus", BOGUS)
async def test_placeholder_ids_never_link_anyone(
    bogus: str,
    graph: pb_grpc.IdentityServiceStub,
    front: ipb_grpc.IngestionServiceStub,
    key: str,
    resolved: ResolvedLog,
) -> None:
    journey = [event(user=uid("user"), anon=bogus, device=bogus), event(user=uid("user"), anon=bogus, device=bogus)]
    await send(front, key, journey)
    await resolved.until_resolved(journey)

    assert resolved.person_of(journey[0]) != resolved.person_of(journey[1])
    assert await resolve_fails(graph, ref(ANON, bogus)) == grpc.StatusCode.NOT_FOUND
    assert await resolve_fails(graph, ref(DEVICE, bogus)) == grpc.StatusCode.NOT_FOUND


async def test_a_value_in_conflicts_of_more_than_five_persons_is_blocked(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    kiosk = uid("device")
    owners = [event(user=uid("user"), device=kiosk) for _ in range(6)]
    await send(front, key, owners)
    await resolved.until_resolved(owners)
    first = resolved.person_of(owners[0])
    assert len({resolved.person_of(e) for e in owners}) == 6

    later = [event(anon=uid("anon"), device=kiosk), event(anon=uid("anon"), device=kiosk)]
    await send(front, key, later)
    await resolved.until_resolved(later)
    assert first not in {resolved.person_of(e) for e in later}
    assert resolved.person_of(later[0]) != resolved.person_of(later[1])
    assert await resolve_fails(graph, ref(DEVICE, kiosk)) == grpc.StatusCode.NOT_FOUND


async def test_a_value_shared_by_five_persons_still_links(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    family = uid("device")
    owners = [event(user=uid("user"), device=family) for _ in range(5)]
    later = event(anon=uid("anon"), device=family)
    await send(front, key, [*owners, later])
    await resolved.until_resolved([*owners, later])

    assert resolved.person_of(later) == resolved.person_of(owners[0])


async def test_a_recycled_phone_number_does_not_glue_its_new_owner_to_the_old_one(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    number = f"+336{uuid.uuid4().int % 10**8:08d}"
    before, after = uid("user"), uid("user")
    journey = [identified(user=before, phone=number), identified(user=after, phone=number)]
    await send(front, key, journey)
    await resolved.until_resolved(journey)

    old, new = resolved.person_of(journey[0]), resolved.person_of(journey[1])
    assert old != new and resolved.merges() == []
    assert await resolve(graph, ref(PHONE, number)) == old
    assert await resolve(graph, ref(USER, after)) == new
    assert [h.rule for h in await history(graph, new)] == ["limit:user_id=1"]
