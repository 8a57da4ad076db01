"""The linking rules: identifiers seen together on an event belong to one person, and an
event that links two persons merges them (the older survives), with the fact on RESOLVED."""

from __future__ import annotations

from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ipb_grpc

from tests.identity.graph_support import (
    ANON,
    DEVICE,
    EMAIL,
    USER,
    ResolvedLog,
    event,
    history,
    identified,
    ref,
    resolve,
    send,
    uid,
)


async def test_anonymous_browsing_then_login_is_one_person(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    anon, user = uid("anon"), uid("user")
    journey = [
        event(anon=anon),
        event(anon=anon, product_viewed=ev.ProductViewed(product_id="sku-1")),
        event(anon=anon, user=user, logged_in=ev.LoggedIn(method="password")),
        event(user=user),
    ]
    await send(front, key, journey)
    await resolved.until_resolved(journey)

    persons = {resolved.person_of(e) for e in journey}
    assert len(persons) == 1
    assert await resolve(graph, ref(USER, user)) == await resolve(graph, ref(ANON, anon)) == persons.pop()
    assert resolved.merges() == []


async def test_login_on_a_second_device_merges_it_into_the_older_person(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    laptop, phone, user = uid("anon"), uid("anon"), uid("user")
    first = [event(anon=laptop, user=user, logged_in=ev.LoggedIn())]
    browsing = [event(anon=phone), event(anon=phone)]
    login = event(anon=phone, user=user, logged_in=ev.LoggedIn())
    await send(front, key, first)
    await send(front, key, browsing)
    await send(front, key, [login])
    published = await resolved.until_resolved([*first, *browsing, login])

    older, newer = resolved.person_of(first[0]), resolved.person_of(browsing[0])
    assert older != newer
    [merged] = resolved.merges()
    assert (merged.survivor_person_id, merged.merged_person_id) == (older, newer)
    assert (merged.reason, merged.rule, merged.cause_event_id) == ("identifier-shared", "anonymous_id", login.event_id)
    assert resolved.person_of(login) == older
    order = [p.record.event.event.event_id if p.kind == "event" else p.kind for p in published]
    assert order.index("merged") < order.index(login.event_id), "the merge comes before the login's record"
    assert await resolve(graph, ref(ANON, phone)) == older
    kinds = [(h.kind, h.other_person_id, h.survivor) for h in await history(graph, older)]
    assert kinds == [(pb.HISTORY_ENTRY_KIND_MERGED, newer, True)]


async def test_a_device_id_links_the_anonymous_ids_of_an_app(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    device, before, after = uid("device"), uid("anon"), uid("anon")
    journey = [event(anon=before, device=device), event(anon=after, device=device)]
    await send(front, key, journey)
    await resolved.until_resolved(journey)

    assert resolved.person_of(journey[0]) == resolved.person_of(journey[1])
    assert await resolve(graph, ref(ANON, before)) == await resolve(graph, ref(ANON, after))


async def test_chained_links_merge_three_persons_into_the_oldest(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    anon, device, user = uid("anon"), uid("device"), uid("user")
    alone = [event(anon=anon), event(anon=uid("anon"), device=device), event(user=user)]
    await send(front, key, alone)
    links = [event(anon=anon, device=device), event(anon=uid("anon"), device=device, user=user)]
    await send(front, key, links)
    await resolved.until_resolved([*alone, *links])

    a, b, c = (resolved.person_of(e) for e in alone)
    assert len({a, b, c}) == 3
    assert [(m.survivor_person_id, m.merged_person_id) for m in resolved.merges()] == [(a, b), (a, c)]
    assert [m.rule for m in resolved.merges()] == ["anonymous_id", "device_id"], (
        "the identifier the event reached them by"
    )
    assert {await resolve(graph, ref(k, v)) for k, v in ((ANON, anon), (DEVICE, device), (USER, user))} == {a}
    identities = await graph.GetIdentities(pb.GetIdentitiesRequest(person_id=c))
    assert identities.person_id == a, "a merged person's id answers for the survivor"
    assert len([h for h in await history(graph, a) if h.kind == pb.HISTORY_ENTRY_KIND_MERGED]) == 2


async def test_an_email_links_devices_and_is_kept_only_as_a_keyed_hash(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    email = f"{uid('shopper')}@example.com"
    tablet, laptop = uid("anon"), uid("anon")
    journey = [identified(anon=tablet, email=email), identified(anon=laptop, email=email.upper())]
    await send(front, key, journey)
    await resolved.until_resolved(journey)

    person = resolved.person_of(journey[0])
    assert resolved.person_of(journey[1]) == person
    assert await resolve(graph, ref(EMAIL, f"  {email.title()} ")) == person
    identities = await graph.GetIdentities(pb.GetIdentitiesRequest(person_id=person))
    [stored] = [i.identifier for i in identities.identities if i.identifier.type == EMAIL]
    assert stored.value == "" and len(stored.keyed_hash) == 64
    assert email not in str(identities)
