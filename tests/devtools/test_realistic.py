"""Realistic journeys (issue 17's situations): deterministic, each situation making what it
claims, a ground truth saying what a correct system links, and naive linking fooled by them."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye_devtools.quality import Truth, label, score
from bullseye_devtools.quality.truth import blocked, identifiers
from bullseye_devtools.traffic.journeys import Journeys
from bullseye_devtools.traffic.realistic import SITUATIONS, generate_realistic
from bullseye_devtools.traffic.realistic.placeholders import PLACEHOLDERS, assign
from bullseye_platform.normalize import normalize_phone

from tests.devtools.quality_support import naive

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def journeys() -> Journeys:
    return generate_realistic(500, 11, now=NOW)


@pytest.fixture(scope="module")
def truth(journeys: Journeys) -> Truth:
    return label(journeys.events, journeys.person_of)


def in_trap(journeys: Journeys, trap: str) -> list[ev.Event]:
    return [e for e in journeys.events if journeys.trap_of.get(journeys.person_of[e.event_id]) == trap]


def persons_by(journeys: Journeys, events: list[ev.Event], kind: str) -> dict[str, set[int]]:
    """Identifier value of `kind` -> the persons that used it (in `events`)."""
    found: dict[str, set[int]] = defaultdict(set)
    for event in events:
        for name, value in identifiers(event):
            if name == kind:
                found[value].add(journeys.person_of[event.event_id])
    return found


def when(event: ev.Event) -> datetime:
    return event.occurred_at.ToDatetime(UTC)


def test_same_seed_and_clock_give_byte_identical_journeys_and_another_seed_others() -> None:
    first, again = generate_realistic(60, 3, now=NOW), generate_realistic(60, 3, now=NOW)
    assert [e.SerializeToString() for e in first.events] == [e.SerializeToString() for e in again.events]
    assert (first.person_of, first.trap_of) == (again.person_of, again.trap_of)
    other = generate_realistic(60, 4, now=NOW)
    assert {e.event_id for e in other.events}.isdisjoint(first.person_of)


def test_about_500_shoppers_and_9000_events_each_in_one_situation_at_most(journeys: Journeys) -> None:
    assert journeys.persons == 500 and 8_000 <= len(journeys.events) <= 10_000
    assert set(journeys.traps) == set(SITUATIONS) and set(journeys.trap_of.values()) == set(SITUATIONS)
    assert sum(journeys.traps.values()) == len(journeys.trap_of) < 500  # nobody twice, some in none
    ids = [e.event_id for e in journeys.events]
    assert len(set(ids)) == len(ids) == len(journeys.person_of)
    with pytest.raises(ValueError, match="at least 30 persons"):
        generate_realistic(20, 3, now=NOW)


def test_events_arrive_in_time_order_but_offline_queues_late_and_the_crm_export_last(journeys: Journeys) -> None:
    assert max(when(e) for e in journeys.events) <= NOW - timedelta(minutes=1)
    export = [e for e in in_trap(journeys, "crm-backfill") if e.context.user_agent.startswith("crm-export")]
    assert len(export) == journeys.traps["crm-backfill"] and journeys.events[-len(export) :] == export
    assert all(when(e) < NOW - timedelta(days=80) and e.identified.personal.email for e in export)
    latest, late = datetime.min.replace(tzinfo=UTC), []
    for event in journeys.events[: -len(export)]:
        late += [event] if when(event) < latest else []
        latest = max(latest, when(event))
    assert len(late) > journeys.traps["out-of-order"]
    assert {journeys.trap_of[journeys.person_of[e.event_id]] for e in late} == {"out-of-order"}


def test_family_apps_pass_one_device_id_between_accounts_with_a_new_anonymous_id_after_each_logout(
    journeys: Journeys, truth: Truth
) -> None:
    events = in_trap(journeys, "household")
    accounts = persons_by(journeys, [e for e in events if e.identifiers.user_id], "device_id")
    families = {device for device, persons in accounts.items() if len(persons) >= 2}
    assert len(families) >= 15
    for device in families:
        on_it = [e for e in events if e.identifiers.device_id == device]
        for before, after in itertools.pairwise(on_it):
            if before.HasField("logged_out"):
                assert after.identifiers.anonymous_id != before.identifiers.anonymous_id
    # The next member's browsing before their login is theirs: same linkable group as the login.
    logins = {e.identifiers.anonymous_id: e for e in events if e.HasField("logged_in") and e.identifiers.device_id}
    browsing = [e for e in events if not e.identifiers.user_id and e.identifiers.anonymous_id in logins]
    scorable = [e for e in browsing if e.event_id in truth.person]
    assert len(scorable) >= 0.8 * len(browsing) > 100
    assert all(truth.group[e.event_id] == truth.group[logins[e.identifiers.anonymous_id].event_id] for e in scorable)


def test_a_kiosk_serves_dozens_of_shoppers_under_one_device_id_and_anonymous_id(
    journeys: Journeys, truth: Truth
) -> None:
    kiosk = [e for e in journeys.events if e.identifiers.device_id.startswith("kiosk-")]
    assert len({e.identifiers.device_id for e in kiosk}) == len({e.identifiers.anonymous_id for e in kiosk}) == 1
    assert len({journeys.person_of[e.event_id] for e in kiosk}) == journeys.traps["till"] == 90
    assert {e.event_id for e in kiosk if not e.identifiers.user_id and not e.HasField("identified")} <= set(truth.why)
    loyalty = {e.identifiers.user_id for e in kiosk if e.identifiers.user_id}
    receipts = [e for e in kiosk if e.HasField("identified")]
    emails = [e for e in receipts if e.identified.personal.email]
    assert len(loyalty) >= 10 and len(emails) >= 15 and any(e.identified.personal.phone for e in receipts)
    sign_ups: dict[str, list[ev.Event]] = defaultdict(list)
    for event in in_trap(journeys, "till"):
        if event.HasField("signed_up"):
            sign_ups[event.signed_up.personal.email].append(event)
    later = [(r, s) for r in emails for s in sign_ups[r.identified.personal.email] if when(s) > when(r)]
    assert len(later) >= 5  # guests who signed up online after their e-receipt
    assert all(truth.group[sign_up.event_id] == truth.group[receipt.event_id] for receipt, sign_up in later)


def test_placeholders_are_sent_by_several_persons_and_link_nobody(journeys: Journeys, truth: Truth) -> None:
    values = {p.value for p in PLACEHOLDERS}
    senders: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for event in in_trap(journeys, "placeholder"):
        personal = event.identified.personal
        for value in {event.identifiers.user_id, personal.email, personal.phone} & values:
            senders[value][journeys.person_of[event.event_id]].append(event.event_id)
    assert len(senders["noemail@shop.example"]) == 12
    assert all(len(senders[p.value]) >= 2 and blocked((p.field, p.canonical)) for p in PLACEHOLDERS)
    for by_person in senders.values():
        sent = [e for events in by_person.values() for e in events]
        assert all(e in truth.person for e in sent)  # the sender's own anonymous id says who
        assert len({truth.group[e] for e in sent}) == len(by_person)  # and the value links nobody


def test_placeholders_are_shared_out_by_weight_and_never_to_one_person_alone() -> None:
    assert [p.weight for p in PLACEHOLDERS] == [assign(40).count(p) for p in PLACEHOLDERS]
    few = assign(5)
    assert len(few) == 5 and all(few.count(p) != 1 for p in PLACEHOLDERS)


def test_shared_mailboxes_serve_several_accounts_and_a_role_address_changes_hands(
    journeys: Journeys, truth: Truth
) -> None:
    events = in_trap(journeys, "shared-mailbox")
    holders = persons_by(journeys, events, "email")
    shared = {address: persons for address, persons in holders.items() if len(persons) >= 2}
    assert {address.split("@")[0].split("-")[0] for address in shared} == {"orders", "the", "buyer"}
    assert any(len(persons) >= 3 for address, persons in shared.items() if address.startswith("orders@"))
    for address in (a for a in shared if a.startswith("buyer@")):
        uses = sorted((when(e), journeys.person_of[e.event_id]) for e in events if ("email", address) in identifiers(e))
        successor = uses[-1][1]
        earlier = [at for at, person in uses if person != successor]
        assert max(earlier) < min(at for at, person in uses if person == successor) - timedelta(days=30)
    for address, persons in shared.items():
        carrying = [e.event_id for e in events if ("email", address) in identifiers(e)]
        assert len({truth.group[e] for e in carrying}) == len(persons)  # nobody linked through it


def test_national_numbers_without_country_or_locale_are_no_identifier_and_the_email_still_links(
    journeys: Journeys, truth: Truth
) -> None:
    national = [e for e in in_trap(journeys, "national-phone") if e.identified.personal.phone.startswith("06")]
    assert len(national) == journeys.traps["national-phone"] == 25
    for event in national:
        assert not event.context.locale and not event.identified.traits.country
        with pytest.raises(ValueError):
            normalize_phone(event.identified.personal.phone, region=None)  # what ingestion does today
        assert [k for k, _ in identifiers(event)] == ["anonymous_id", "email"]
        confirmed = [
            e for e in journeys.events
            if e.identifiers.user_id and ("email", dict(identifiers(event))["email"]) in identifiers(e)
        ]  # fmt: skip
        assert confirmed and all(truth.group[e.event_id] == truth.group[event.event_id] for e in confirmed)


def test_a_crm_record_ties_a_login_to_a_guest_checkout_on_another_device(journeys: Journeys, truth: Truth) -> None:
    for record in (e for e in journeys.events if e.context.user_agent.startswith("crm-export")):
        email = dict(identifiers(record))["email"]
        guest = [e for e in journeys.events if not e.identifiers.user_id and ("email", email) in identifiers(e)]
        logins = [e for e in journeys.events if e.identifiers.user_id == record.identifiers.user_id]
        assert guest and len(logins) > 1
        assert {truth.group[e.event_id] for e in (record, *guest, *logins)} == {truth.group[record.event_id]}


def test_no_person_exceeds_identitys_default_limits_in_what_the_truth_links(journeys: Journeys) -> None:
    """One user id, at most 5 emails, 3 phones, 10 device ids and 100 anonymous ids per person."""
    per_person: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for event in journeys.events:
        for key in identifiers(event):
            if not blocked(key):
                per_person[journeys.person_of[event.event_id]][key[0]].add(key[1])
    limits = {"user_id": 1, "email": 5, "phone": 3, "device_id": 10, "anonymous_id": 100}
    for kind, limit in limits.items():
        assert max(len(kinds[kind]) for kinds in per_person.values()) <= limit, kind


def test_linking_by_every_value_glues_strangers_and_by_user_id_alone_misses_links(
    journeys: Journeys, truth: Truth
) -> None:
    everything = {"user_id", "email", "phone", "device_id", "anonymous_id"}
    assert score(truth, naive(journeys.events, kinds=everything, block=True)).precision < 0.5
    alone = score(truth, naive(journeys.events, kinds={"user_id"}, block=True))
    assert alone.precision == 1.0 and alone.recall < 0.9
