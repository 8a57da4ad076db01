"""Shared values detected early, and the merges made only through them undone (issue 17):
family tablets handed over, shop kiosks, shared mailboxes, placeholders and values seen with
too many persons, each through ingestion, identity's RPCs and RESOLVED."""

from __future__ import annotations

import grpc
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
    resolve_fails,
    send,
    uid,
)

USER_RULE = "limit:user_id=1"


async def identities(graph: pb_grpc.IdentityServiceStub, person: str) -> dict[str, pb.Identity]:
    """The person's identities by value (or keyed hash)."""
    reply = await graph.GetIdentities(pb.GetIdentitiesRequest(person_id=person), timeout=10)
    return {i.identifier.value or i.identifier.keyed_hash: i for i in reply.identities}


async def test_the_next_family_member_logging_in_takes_back_what_the_tablet_gave_the_first(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    """The family app keeps one device id and issues a fresh anonymous id at each logout."""
    tablet, mums_anon, sons_anon, dads_anon = uid("device"), uid("anon"), uid("anon"), uid("anon")
    mum, son, dad = uid("user"), uid("user"), uid("user")
    mums_turn = [
        event(anon=mums_anon, device=tablet),
        event(anon=mums_anon, device=tablet, user=mum, logged_in=ev.LoggedIn()),
        event(anon=mums_anon, device=tablet, user=mum, logged_out=ev.LoggedOut()),
    ]
    sons_browsing = [event(anon=sons_anon, device=tablet), event(anon=sons_anon, device=tablet)]
    sons_login = event(anon=sons_anon, device=tablet, user=son, logged_in=ev.LoggedIn())
    dads_turn = [
        event(anon=dads_anon, device=tablet),
        event(anon=dads_anon, device=tablet, user=dad, logged_in=ev.LoggedIn()),
    ]
    journey = [*mums_turn, *sons_browsing, sons_login, *dads_turn]
    await send(front, key, journey)
    await resolved.until_resolved(journey)

    mums, sons, dads = (
        resolved.person_of(mums_turn[0]),
        resolved.person_of(sons_login),
        resolved.person_of(dads_turn[1]),
    )
    assert resolved.person_of(sons_browsing[0]) == mums, "at the time, the tablet's device id said mum"
    assert len({mums, sons, dads}) == 3
    assert [resolved.final_person_of(e) for e in journey] == [mums] * 3 + [sons] * 3 + [dads] * 2
    [split] = [s for s in resolved.splits() if s.moved_event_ids]
    assert (split.person_id, split.new_person_id) == (mums, sons)
    assert list(split.moved_event_ids) == [e.event_id for e in sons_browsing]
    assert (split.reason, split.rule, split.cause_event_id) == ("contradicted", USER_RULE, sons_login.event_id)
    assert split.cause_identifier == ref(ANON, sons_anon)
    assert list(split.moved_identifiers) == [ref(ANON, sons_anon)]
    assert resolved.merges() == [], "the son's login joined his anonymous id after it left his mother"

    assert await resolve(graph, ref(ANON, sons_anon)) == sons
    assert await resolve_fails(graph, ref(DEVICE, tablet)) == grpc.StatusCode.NOT_FOUND, "shared: it links nobody"
    device = (await identities(graph, mums))[tablet]
    assert (device.shared, device.shared_reason, device.strength) == (True, USER_RULE, pb.LINK_STRENGTH_STRONG)
    entries = await history(graph, mums)
    [shared] = [h for h in entries if h.kind == pb.HISTORY_ENTRY_KIND_SHARED]
    assert (shared.identifier, shared.rule, shared.cause_event_id) == (
        ref(DEVICE, tablet),
        USER_RULE,
        sons_login.event_id,
    )
    [parted] = [h for h in entries if h.kind == pb.HISTORY_ENTRY_KIND_SPLIT]
    assert (parted.other_person_id, parted.survivor, parted.reason, parted.identifier) == (
        sons, True, "contradicted", ref(ANON, sons_anon)
    )  # fmt: skip


async def test_a_kiosk_is_shared_at_its_second_guest_email_and_the_first_guest_leaves_it(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    kiosk, install = uid("kiosk"), uid("anon")
    bea, cy = f"{uid('bea')}@example.com", f"{uid('cy')}@example.com"
    bea_home, bea_account = uid("anon"), uid("user")
    cash = event(anon=install, device=kiosk)
    beas_receipt = identified(anon=install, device=kiosk, email=bea)
    cys_receipt = identified(anon=install, device=kiosk, email=cy)
    card = event(anon=install, device=kiosk, user=uid("user"))
    beas_sign_up = identified(anon=bea_home, user=bea_account, email=bea)
    journey = [cash, beas_receipt, cys_receipt, card, beas_sign_up]
    await send(front, key, journey)
    await resolved.until_resolved(journey)

    kiosks = resolved.person_of(cash)
    assert resolved.person_of(beas_receipt) == kiosks, "one guest's address: nothing says the kiosk is shared yet"
    finals = [resolved.final_person_of(e) for e in journey]
    assert finals[0] == kiosks and len(set(finals[:4])) == 4, "cash, Bea, Cy and the card holder: four persons"
    assert finals[1] == finals[4] == await resolve(graph, ref(USER, bea_account)), "Bea's receipt is her account's"
    [split] = [s for s in resolved.splits() if s.moved_event_ids]
    assert (split.person_id, list(split.moved_event_ids)) == (kiosks, [beas_receipt.event_id])
    assert (split.reason, split.rule, split.cause_event_id) == ("shared-value", "weak:email", cys_receipt.event_id)
    for value in (kiosk, install):
        assert (await identities(graph, kiosks))[value].shared_reason == "weak:email"


async def test_a_colleagues_guest_checkout_follows_their_laptop_once_the_mailbox_is_shared(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    orders = f"orders@{uid('company')}.example"
    first_laptop, second_laptop, first, second = uid("anon"), uid("anon"), uid("user"), uid("user")
    firsts = [
        identified(anon=first_laptop, email=orders),
        event(anon=first_laptop, user=first, logged_in=ev.LoggedIn()),
        identified(anon=first_laptop, user=first, email=orders),
    ]
    seconds = [
        event(anon=second_laptop),
        identified(anon=second_laptop, email=orders),
        event(anon=second_laptop, product_viewed=ev.ProductViewed(product_id="sku-7")),
        event(anon=second_laptop, user=second, logged_in=ev.LoggedIn()),
        identified(anon=second_laptop, user=second, email=orders),
    ]
    await send(front, key, [*firsts, *seconds])
    await resolved.until_resolved([*firsts, *seconds])

    mine, theirs = resolved.person_of(firsts[1]), resolved.person_of(seconds[3])
    assert mine != theirs
    assert [resolved.final_person_of(e) for e in [*firsts, *seconds]] == [mine] * 3 + [theirs] * 5
    to_existing = [s for s in resolved.splits() if s.new_person_id == theirs and not s.moved_identifiers]
    assert [list(s.moved_event_ids) for s in to_existing if s.moved_event_ids] == [[seconds[1].event_id]], (
        "the checkout with the mailbox follows the laptop to the colleague's existing person"
    )
    assert await resolve_fails(graph, ref(EMAIL, orders)) == grpc.StatusCode.NOT_FOUND
    assert await resolve(graph, ref(ANON, second_laptop)) == theirs


async def test_placeholder_contact_points_never_link_guests(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    journey = [identified(anon=uid("anon"), email="noemail@shop.example") for _ in range(3)]
    journey += [identified(anon=uid("anon"), email="test@test.com") for _ in range(2)]
    await send(front, key, journey)
    await resolved.until_resolved(journey)

    assert len({resolved.person_of(e) for e in journey}) == len(journey)
    assert await resolve_fails(graph, ref(EMAIL, "NoEmail@Shop.example")) == grpc.StatusCode.NOT_FOUND


async def test_a_value_joining_more_than_five_persons_logged_out_is_shared_and_those_merges_undone(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    """An unknown placeholder (not on the list) typed by six guests, each on a browser of their own."""
    address, browsers = f"guest@{uid('shop')}.example", [uid("anon") for _ in range(6)]
    journey = [e for b in browsers for e in (event(anon=b), identified(anon=b, email=address))]
    sentinel = event(anon=uid("anon"))  # the healing follows the sixth checkout: wait past it
    await send(front, key, [*journey, sentinel])
    await resolved.until_resolved([*journey, sentinel])

    finals = [resolved.final_person_of(e) for e in journey]
    assert len(set(finals)) == 6 and all(finals[i] == finals[i + 1] for i in range(0, 12, 2)), "each guest alone"
    assert len(resolved.merges()) == 5, "the merges happened, and were undone"
    assert await resolve_fails(graph, ref(EMAIL, address)) == grpc.StatusCode.NOT_FOUND
    [shared] = [h for h in await history(graph, finals[0]) if h.kind == pb.HISTORY_ENTRY_KIND_SHARED]
    assert (shared.rule, shared.cause_event_id) == ("many-persons", journey[-1].event_id)


async def test_merges_and_identifiers_show_their_evidence(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    laptop, app, phone_browser, other_browser, later, user = (uid(k) for k in ("anon", "device", "anon", "anon",
                                                                               "anon", "user"))  # fmt: skip
    journey = [
        event(anon=laptop, user=user, logged_in=ev.LoggedIn()),
        event(anon=phone_browser, device=app),
        event(anon=other_browser),
        event(anon=other_browser, device=app),  # a logged-out sighting joins two persons: weak
        event(anon=later, device=app),  # a new identifier joins through the device
        event(anon=phone_browser, user=user, logged_in=ev.LoggedIn()),  # a login joins two persons: strong
    ]
    await send(front, key, journey)
    await resolved.until_resolved(journey)

    person = resolved.person_of(journey[0])
    assert [(m.identifier, m.strength, m.cause_event_id) for m in resolved.merges()] == [
        (ref(ANON, other_browser), pb.LINK_STRENGTH_WEAK, journey[3].event_id),
        (ref(ANON, phone_browser), pb.LINK_STRENGTH_STRONG, journey[5].event_id),
    ]  # fmt: skip
    merges = [h for h in await history(graph, person) if h.kind == pb.HISTORY_ENTRY_KIND_MERGED]
    assert [(h.identifier, h.strength, h.rule) for h in merges] == [
        (ref(ANON, phone_browser), pb.LINK_STRENGTH_STRONG, "anonymous_id")
    ]  # fmt: skip
    found = await identities(graph, person)
    created = (journey[0].event_id, pb.IdentifierRef(), pb.LINK_STRENGTH_STRONG)
    assert (found[user].linked_by_event_id, found[user].linked_through, found[user].strength) == created
    assert (found[later].linked_by_event_id, found[later].linked_through, found[later].strength) == (
        journey[4].event_id, ref(DEVICE, app), pb.LINK_STRENGTH_WEAK
    )  # fmt: skip
    assert found[phone_browser].strength == pb.LINK_STRENGTH_STRONG, "seen in the login since"
    assert not any(i.shared for i in found.values())
