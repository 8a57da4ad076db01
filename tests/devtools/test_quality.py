"""Ground truth, pairwise scoring and the RESOLVED fold, on tiny hand-made cases, and what
naive resolvers score on the journeys (the traps must bite)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import resolved_pb2 as rpb
from bullseye_devtools.quality import Resolution, Truth, label, pairs, score
from bullseye_devtools.quality.scoring import links_missed, strangers_merged
from bullseye_devtools.quality.truth import blocked, identifiers
from bullseye_devtools.traffic.journeys import generate_journeys


def event(
    event_id: str, *, anon: str = "", user: str = "", device: str = "", email: str = "", phone: str = ""
) -> ev.Event:
    made = ev.Event(event_id=event_id, identifiers=ev.Identifiers(anonymous_id=anon, user_id=user, device_id=device))
    if email or phone:
        made.identified.personal.email, made.identified.personal.phone = email, phone
    else:
        made.page_viewed.name = "home"
    return made


# Ann (0) and Bob (1) share a tablet; Ann opens an email on her own tablet; Cy (2) is a guest
# on two phones that never meet; a buggy SDK sends the cookie "null" for Ann and Bob.
CASE = [
    (event("a1", anon="tab", user="u-ann"), 0),
    (event("a2", anon="tab"), 0),  # logged out on the shared tablet: only a shared id
    (event("a3", user="u-ann", email="Ann@Example.com "), 0),
    (event("a4", anon="ann-tab", email="ann@example.com"), 0),  # email opened on her tablet
    (event("a5", anon="ann-tab"), 0),
    (event("a6", anon="null"), 0),
    (event("b1", anon="tab", user="u-bob"), 1),
    (event("b2", anon="null", user="u-bob"), 1),
    (event("b3", anon="null"), 1),
    (event("c1", anon="cy-phone-1"), 2),
    (event("c2", anon="cy-phone-1"), 2),
    (event("c3", anon="cy-phone-2"), 2),
    (event("d1", anon="tab", email="dee@example.com"), 3),  # a guest's email on the shared tablet
]


@pytest.fixture
def truth() -> Truth:
    return label([e for e, _ in CASE], {e.event_id: p for e, p in CASE})


def test_only_shared_or_blocked_identifiers_make_an_event_unscorable(truth: Truth) -> None:
    assert set(truth.person) == {"a1", "a3", "a4", "a5", "b1", "b2", "c1", "c2", "c3"}
    assert truth.unscorable == {"only shared ids": 1, "only blocked ids": 2, "logged out on a shared device": 1}


def test_linkable_groups_follow_exclusive_identifiers_within_a_person(truth: Truth) -> None:
    group = truth.group
    assert group["a1"] == group["a3"] == group["a4"] == group["a5"]  # user id, then email, then cookie
    assert group["b1"] == group["b2"]
    assert group["c1"] == group["c2"] != group["c3"]  # nothing links Cy's two phones
    assert len(set(group.values())) == 4


def test_perfect_resolution_scores_one_and_one(truth: Truth) -> None:
    quality = score(truth, {e: f"p{g}" for e, g in truth.group.items()})
    assert (quality.precision, quality.recall) == (1.0, 1.0)
    assert (quality.scorable, quality.unscorable, quality.true_persons, quality.linkable_groups) == (9, 4, 3, 4)


def test_a_merge_of_strangers_costs_precision_exactly(truth: Truth) -> None:
    predicted = {e: f"p{g}" for e, g in truth.group.items()}
    predicted["b1"] = predicted["b2"] = predicted["a1"]  # Bob glued to Ann: 4 + 2 events, 15 pairs
    quality = score(truth, predicted)
    assert quality.predicted_pairs == 15 + 1  # Ann+Bob (6 events) and Cy's phone 1 (2 events)
    assert quality.correct_pairs == 6 + 1 + 1  # Ann's 4 (6 pairs), Bob's 2 (1), Cy's (1)
    assert quality.precision == pytest.approx(8 / 16)
    assert quality.recall == 1.0


def test_a_missed_link_costs_recall_and_unresolved_events_stand_alone(truth: Truth) -> None:
    predicted = {e: f"p{g}" for e, g in truth.group.items()}
    predicted["a5"] = "p-other"  # Ann's tablet cookie not linked: 3 of her 6 pairs lost
    del predicted["c2"]  # never resolved
    quality = score(truth, predicted)
    assert quality.linkable_pairs == 6 + 1 + 1
    assert quality.found_pairs == 3 + 1
    assert quality.recall == pytest.approx(4 / 8)
    assert quality.precision == 1.0 and quality.unresolved == 1


def test_diagnostics_name_the_glued_persons_and_the_split_groups(truth: Truth) -> None:
    predicted = {e: f"p{g}" for e, g in truth.group.items()}
    assert strangers_merged(truth, predicted) == {} and links_missed(truth, predicted) == {}
    predicted["b1"] = predicted["a1"]
    predicted["a5"] = "p-other"
    assert strangers_merged(truth, predicted) == {predicted["a1"]: {0: 3, 1: 1}}
    assert links_missed(truth, predicted) == {
        truth.group["a1"]: {predicted["a1"]: 3, "p-other": 1},
        truth.group["b1"]: {predicted["a1"]: 1, predicted["b2"]: 1},
    }


def test_pairs_sums_n_choose_2() -> None:
    assert pairs([3, 2, 1, 0]) == 4
    assert pairs([]) == 0


def test_identifiers_normalize_contact_points_as_ingestion_and_know_blocked_values() -> None:
    made = event("x", anon="NULL", user="u1", email=" Bob@Example.COM", phone="06 00 12 34 56")
    made.context.locale = "fr-FR"  # a national number is read in the locale's country
    found = identifiers(made)
    assert ("email", "bob@example.com") in found and ("phone", "+33600123456") in found
    made.identified.personal.phone, made.identified.traits.country = "06 00 12 34 56", "BE"
    assert ("phone", "+32600123456") in identifiers(made)  # the traits' country wins
    assert blocked(("anonymous_id", "NULL")) and blocked(("device_id", "00000000-0000-0000-0000-000000000000"))


def record(**kind: object) -> rpb.ResolvedRecord:
    return rpb.ResolvedRecord(**kind)  # type: ignore[arg-type]


def resolved(event_id: str, person: str) -> rpb.ResolvedRecord:
    return record(event=rpb.ResolvedEvent(person_id=person, event=ev.Event(event_id=event_id)))


def test_the_fold_follows_merges_transitively_and_splits_move_events() -> None:
    resolution = Resolution()
    for item in [
        resolved("e1", "p1"),
        resolved("e2", "p2"),
        record(merged=rpb.PersonsMerged(survivor_person_id="p1", merged_person_id="p2", rule="email")),
        resolved("e3", "p3"),
        record(merged=rpb.PersonsMerged(survivor_person_id="p3", merged_person_id="p1", rule="user_id")),
        record(split=rpb.PersonSplit(person_id="p3", new_person_id="p4", moved_event_ids=["e1"])),
    ]:
        resolution.apply(item)
    assert resolution.final() == {"e1": "p4", "e2": "p3", "e3": "p3"}
    assert (resolution.merges, resolution.splits, resolution.records) == (2, 1, 6)
    assert resolution.merge_rules == {"email": 1, "user_id": 1}


@pytest.fixture(scope="module")
def journeys_truth() -> tuple[list[ev.Event], Truth]:
    journeys = generate_journeys(600, 9, now=datetime(2026, 3, 2, tzinfo=UTC))
    return journeys.events, label(journeys.events, journeys.person_of)


def naive(events: list[ev.Event], *, kinds: set[str], block: bool) -> dict[str, str]:
    """Links events by every identifier of `kinds`, with no limit (and no blocking unless asked)."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(key: tuple[str, str]) -> tuple[str, str]:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    keys_of = {}
    for e in events:
        keys = [("event", e.event_id)] + [k for k in identifiers(e) if k[0] in kinds and not (block and blocked(k))]
        for key in keys[1:]:
            parent[find(key)] = find(keys[0])
        keys_of[e.event_id] = keys[0]
    return {event_id: str(find(key)) for event_id, key in keys_of.items()}


def test_linking_by_every_identifier_glues_strangers(journeys_truth: tuple[list[ev.Event], Truth]) -> None:
    events, truth = journeys_truth
    everything = {"user_id", "email", "phone", "device_id", "anonymous_id"}
    assert score(truth, naive(events, kinds=everything, block=False)).precision < 0.5
    assert score(truth, naive(events, kinds=everything, block=True)).precision < 0.99


def test_linking_by_user_id_alone_is_precise_but_misses_links(journeys_truth: tuple[list[ev.Event], Truth]) -> None:
    events, truth = journeys_truth
    quality = score(truth, naive(events, kinds={"user_id"}, block=True))
    assert quality.precision == 1.0 and quality.recall < 0.9
    assert quality.unscorable > 0 and quality.scorable + quality.unscorable == len(events)
