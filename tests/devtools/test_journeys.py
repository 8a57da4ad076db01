"""Cross-device journeys with ground truth: deterministic, full of the traps they promise,
and within identity's default limits for one person."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye_devtools.quality.truth import blocked, identifiers
from bullseye_devtools.traffic import generate
from bullseye_devtools.traffic.journeys import TRAP_SHARES, Journeys, generate_journeys
from bullseye_devtools.traffic.traps import typo

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def journeys() -> Journeys:
    return generate_journeys(800, 5, now=NOW)


def users_by(journeys: Journeys, kind: str) -> dict[str, set[int]]:
    """Identifier value of `kind` -> the persons that used it."""
    found: dict[str, set[int]] = defaultdict(set)
    for event in journeys.events:
        for name, value in identifiers(event):
            if name == kind:
                found[value].add(journeys.person_of[event.event_id])
    return found


def test_same_seed_and_clock_give_byte_identical_journeys() -> None:
    first, again = generate_journeys(60, 3, now=NOW), generate_journeys(60, 3, now=NOW)
    assert [e.SerializeToString() for e in first.events] == [e.SerializeToString() for e in again.events]
    assert first.person_of == again.person_of


def test_every_event_has_a_unique_id_and_a_true_person(journeys: Journeys) -> None:
    ids = [e.event_id for e in journeys.events]
    assert len(set(ids)) == len(ids) == len(journeys.person_of)
    assert set(journeys.person_of.values()) == set(range(800))


def test_time_ordered_live_period_plus_months_old_history(journeys: Journeys) -> None:
    times = [e.occurred_at.ToDatetime(UTC) for e in journeys.events]
    assert times == sorted(times) and max(times) <= NOW - timedelta(minutes=1)
    old = [t for t in times if t < NOW - timedelta(days=7)]
    assert old and min(old) >= NOW - timedelta(days=91)  # stale cookies and recycled phones
    # Every event has an identifier ingestion takes: a till's customer may give only a phone.
    assert all(e.identifiers.anonymous_id or e.identifiers.user_id or e.identifiers.phone for e in journeys.events)
    assert any(e.identifiers.phone and not e.identifiers.user_id for e in journeys.events)


def test_every_trap_draws_persons(journeys: Journeys) -> None:
    assert set(journeys.traps) == set(TRAP_SHARES)
    assert sum(journeys.traps.values()) >= 0.25 * 800


def test_shared_devices_and_recycled_phones_carry_two_persons_accounts(journeys: Journeys) -> None:
    users_of_device: dict[str, set[str]] = defaultdict(set)
    users_of_phone: dict[str, set[str]] = defaultdict(set)
    for event in journeys.events:
        user = event.identifiers.user_id
        if user and not blocked(("user_id", user)):
            if event.identifiers.device_id and not event.identifiers.device_id.startswith("pos-"):
                users_of_device[event.identifiers.device_id].add(user)
            users_of_phone.update({v: users_of_phone[v] | {user} for k, v in identifiers(event) if k == "phone"})
    assert any(len(u) == 2 for u in users_of_device.values()), "a family app with two accounts"
    assert any(len(u) == 2 for u in users_of_phone.values()), "a phone number given by two account holders"


def test_a_stale_cookie_returns_months_later_with_another_person(journeys: Journeys) -> None:
    seen: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for event in journeys.events:
        seen[event.identifiers.anonymous_id].append(
            (event.occurred_at.ToDatetime(UTC), journeys.person_of[event.event_id])
        )
    stale = [
        uses for uses in seen.values() if len({p for _, p in uses}) == 2 and uses[-1][0] - uses[0][0] > timedelta(60)
    ]
    assert len(stale) >= 3


def test_bogus_ids_are_used_by_many_persons(journeys: Journeys) -> None:
    persons = {journeys.person_of[e.event_id] for e in journeys.events if any(map(blocked, identifiers(e)))}
    assert len(persons) >= 20


def test_email_typos_precede_the_right_address_under_one_account(journeys: Journeys) -> None:
    emails_of_user: dict[str, list[str]] = defaultdict(list)
    for event in journeys.events:
        for name, value in identifiers(event):
            if name == "email" and event.identifiers.user_id:
                emails_of_user[event.identifiers.user_id].append(value)
    corrected = [e for e in emails_of_user.values() if any(typo(right) in e for right in e)]
    assert len(corrected) >= 10


def test_typo_swaps_two_letters_of_the_local_part() -> None:
    assert typo("camille.martin.12@example.com") == "cmaille.martin.12@example.com"
    assert typo(" Bob@Example.com ") == "bbo@example.com"


def test_no_person_exceeds_identitys_default_limits(journeys: Journeys) -> None:
    """One user id, at most 5 emails and 10 devices per person: what the rules can link must be
    within the limits, or the ground truth would ask for links the rules refuse."""
    per_person: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for event in journeys.events:
        for key in identifiers(event):
            if not blocked(key):
                per_person[journeys.person_of[event.event_id]][key[0]].add(key[1])
    assert max(len(kinds["user_id"]) for kinds in per_person.values()) == 1
    assert max(len(kinds["email"]) for kinds in per_person.values()) <= 2
    own_devices = [{d for d in kinds["device_id"] if not d.startswith("pos-")} for kinds in per_person.values()]
    assert max(map(len, own_devices)) <= 10
    assert max(len(kinds["anonymous_id"]) for kinds in per_person.values()) <= 10


def test_store_and_tablet_events_identify_with_contact_points_only(journeys: Journeys) -> None:
    """Omnichannel persons: a till event with only a phone, a tablet email open with only an email."""
    tills = [e for e in journeys.events if e.context.channel == ev.CHANNEL_STORE and e.HasField("identified")]
    assert tills and all(e.identified.personal.phone and not e.identified.personal.email for e in tills)
    tablets = [
        e for e in journeys.events
        if e.context.device.type == "tablet" and e.HasField("identified") and not e.identifiers.user_id
    ]  # fmt: skip
    assert tablets and all(e.identified.personal.email for e in tablets)


def test_journeys_after_the_traffics_shoppers_share_no_identifier_with_it() -> None:
    """The demo sends both; a shared phone or cookie would link persons the truth calls strangers."""
    traffic = list(generate(41, 3, now=NOW))
    journeys = generate_journeys(40, 3, now=NOW, first=42)
    till = lambda key: key[1].startswith("pos-")  # noqa: E731  store tills are shared by design
    used = {k for e in traffic for k in identifiers(e) if not till(k)}
    assert used and not used & {k for e in journeys.events for k in identifiers(e) if not (blocked(k) or till(k))}
    assert not {e.event_id for e in traffic} & set(journeys.person_of)
