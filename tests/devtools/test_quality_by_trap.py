"""Ground truth of a correct system and scoring per trap, on the hand-made CASE: a logged-out
event followed by its exclusive identifier, unreadable values and placeholders linking
nobody, pairs involving each trap, wrong pairs by trap and what glued them."""

from __future__ import annotations

import pytest
from bullseye_devtools.quality import Truth, label
from bullseye_devtools.quality.scoring import Pairs, pairs_involving
from bullseye_devtools.quality.traps import ORDINARY, bridges, by_trap, strangers_together, wrong_pairs_by_traps
from bullseye_devtools.quality.truth import blocked, identifiers
from bullseye_devtools.traffic.journeys import Journeys

from tests.devtools.quality_support import CASE, event

EVENTS = [e for e, _ in CASE]
PERSON = {e.event_id: p for e, p in CASE}
TRAP_OF = {0: "ann-trap", 1: "bob-trap"}  # Cy (2) and Dee (3) in none


@pytest.fixture
def legacy() -> Truth:
    return label(EVENTS, PERSON, logged_out_follows_device=True)


def glued(truth: Truth) -> dict[str, str]:
    """Bob glued to Ann, Ann's tablet cookie left apart, everything unscorable put with Ann."""
    predicted = {e: f"p{g}" for e, g in truth.group.items()}
    predicted["b1"] = predicted["b2"] = predicted["a1"]
    predicted["a5"] = "p-other"
    return predicted | dict.fromkeys(("a2", "a6", "b3", "d1"), predicted["a1"])


def test_a_correct_system_follows_an_exclusive_identifier_typed_logged_out_on_a_shared_device() -> None:
    truth = label(EVENTS, PERSON)
    assert truth.person["d1"] == 3 and truth.group["d1"] not in {truth.group[e] for e in ("a1", "b1")}
    assert truth.why == {"a2": "only shared ids", "a6": "only blocked ids", "b3": "only blocked ids"}
    assert label(EVENTS, PERSON, logged_out_follows_device=True).why["d1"] == "logged out on a shared device"


def test_unreadable_values_are_no_identifiers_and_placeholders_are_blocked() -> None:
    national = event("n", anon="browser", email="Kim@Example.com", phone="06 00 12 34 56")  # no locale, no country
    assert identifiers(national) == [("anonymous_id", "browser"), ("email", "kim@example.com")]
    assert identifiers(event("t", anon="x", email="{{email}}")) == [("anonymous_id", "x")]
    for key in [("email", "noemail@shop.example"), ("user_id", "[object Object]"), ("phone", "+33111111111"),
                ("email", "test@test.com"), ("user_id", "n/a")]:  # fmt: skip
        assert blocked(key), key
    assert not blocked(("email", "kim@example.com"))


def test_pairs_involving_a_trap_are_every_pair_less_those_among_the_others(legacy: Truth) -> None:
    part_of = {e: TRAP_OF.get(p, ORDINARY) for e, p in PERSON.items()}
    involving = pairs_involving(legacy, glued(legacy), part_of)
    # Ann's 3 events with Bob's 2 in one person; Ann's cookie apart; Cy's phone 1 (2 events).
    assert involving["bob-trap"] == Pairs(predicted=3 * 2 + 1, correct=1, linkable=1, found=1)
    assert involving["ann-trap"] == Pairs(predicted=3 + 3 * 2, correct=3, linkable=6, found=3)
    assert involving[ORDINARY] == Pairs(predicted=1, correct=1, linkable=1, found=1)
    assert (involving["bob-trap"].precision, involving["ann-trap"].recall) == (pytest.approx(1 / 7), 0.5)
    assert (involving["ann-trap"].wrong, involving["ann-trap"].missed) == (6, 3)


def test_by_trap_counts_persons_events_unscorable_and_what_never_resolved(legacy: Truth) -> None:
    journeys = Journeys(events=EVENTS, person_of=PERSON, trap_of=TRAP_OF)
    final = glued(legacy)
    del final["c2"]  # rejected by ingestion, say
    figures = by_trap(journeys, legacy, final)
    assert set(figures) == {"ann-trap", "bob-trap", ORDINARY}
    counts = {trap: (f.persons, f.events, f.unscorable, f.not_resolved) for trap, f in figures.items()}
    assert counts == {"ann-trap": (1, 6, 2, 0), "bob-trap": (1, 3, 1, 0), ORDINARY: (2, 4, 1, 1)}
    assert figures[ORDINARY].pairs == Pairs(predicted=0, correct=0, linkable=1, found=0)  # Cy's lost pair


def test_wrong_pairs_are_counted_by_the_strangers_traps_and_glue_by_the_values_they_share(legacy: Truth) -> None:
    final = glued(legacy)
    assert wrong_pairs_by_traps(legacy, final, TRAP_OF) == {"ann-trap+bob-trap": 3 * 2}
    assert strangers_together(legacy, final) == 1
    assert bridges(EVENTS, PERSON, final) == {"anonymous_id (shared)": 1, "anonymous_id (placeholder)": 1}
    assert bridges(EVENTS, PERSON, {e.event_id: e.event_id for e in EVENTS}) == {}


def test_a_pair_across_two_traps_counts_in_both(legacy: Truth) -> None:
    part_of = {e: TRAP_OF.get(p, ORDINARY) for e, p in PERSON.items()}
    parts = pairs_involving(legacy, glued(legacy), part_of).values()
    whole, across = 3 + 1 + 6 + 1, 3 * 2  # Ann's 3 pairs, Bob's 1, Ann-Bob 6, Cy's 1
    assert sum(part.predicted for part in parts) == whole + across
