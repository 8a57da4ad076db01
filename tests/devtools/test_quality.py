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

from tests.devtools.quality_support import CASE, event, naive


@pytest.fixture
def truth() -> Truth:
    """CASE by the rule the project's own journeys are scored by (a logged-out event on a
    shared device follows the device)."""
    return label([e for e, _ in CASE], {e.event_id: p for e, p in CASE}, logged_out_follows_device=True)


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
