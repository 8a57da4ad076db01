"""Limits and values that link nobody: shared devices, logout/login on one browser, bogus ids
from buggy SDKs and recycled numbers never glue strangers together (test_sharing.py: what a
value found shared undoes)."""

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


async def test_two_user_ids_on_a_shared_device_never_merge_and_the_device_is_shared_at_once(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    device, mum, son = uid("device"), uid("user"), uid("user")
    journey = [event(user=mum, device=device), event(user=son, device=device)]
    await send(front, key, journey)
    await resolved.until_resolved(journey)

    mums, sons = resolved.person_of(journey[0]), resolved.person_of(journey[1])
    assert mums != sons
    assert resolved.merges() == []
    assert await resolve_fails(graph, ref(DEVICE, device)) == grpc.StatusCode.NOT_FOUND, "it links nobody now"
    [shared] = await history(graph, mums)
    assert (shared.kind, shared.identifier, shared.rule) == (
        pb.HISTORY_ENTRY_KIND_SHARED, ref(DEVICE, device), "limit:user_id=1"
    )  # fmt: skip
    assert shared.cause_event_id == journey[1].event_id
    assert await history(graph, sons) == []


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

    firsts, seconds, logged_out = (resolved.person_of(journey[i]) for i in (0, 2, 4))
    assert [resolved.person_of(e) for e in journey[:4]] == [firsts, firsts, seconds, seconds]
    assert logged_out not in (firsts, seconds), "logged out, the shared cookie says nobody"
    assert await resolve(graph, ref(USER, second)) == seconds
    assert await resolve_fails(graph, ref(ANON, browser)) == grpc.StatusCode.NOT_FOUND
    assert [(h.kind, h.rule) for h in await history(graph, firsts)] == [
        (pb.HISTORY_ENTRY_KIND_SHARED, "limit:user_id=1")
    ]


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
    "00000000-0000-0000-0000-000000000000", "xxxxxxxx", "11111111", "[object Object]", "n/a", "{{user.id}}",
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


async def test_a_kiosk_seen_with_a_second_user_id_links_nobody_afterwards(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    kiosk = uid("device")
    owners = [event(user=uid("user"), device=kiosk) for _ in range(2)]
    later = [event(anon=uid("anon"), device=kiosk), event(anon=uid("anon"), device=kiosk)]
    await send(front, key, [*owners, *later])
    await resolved.until_resolved([*owners, *later])

    persons = [resolved.person_of(e) for e in [*owners, *later]]
    assert len(set(persons)) == 4
    assert await resolve_fails(graph, ref(DEVICE, kiosk)) == grpc.StatusCode.NOT_FOUND


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
    assert await resolve_fails(graph, ref(PHONE, number)) == grpc.StatusCode.NOT_FOUND, "claimed by two accounts"
    assert await resolve(graph, ref(USER, after)) == new
    assert [(h.kind, h.identifier.type) for h in await history(graph, old)] == [(pb.HISTORY_ENTRY_KIND_SHARED, PHONE)]
