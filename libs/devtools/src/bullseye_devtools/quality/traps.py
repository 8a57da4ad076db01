"""Quality per trap: what happened to the persons who walked into each, and what glued strangers.

A trap's events are all the events of the persons it drew (their ordinary journeys too): a
wrong merge made at a kiosk glues the guest's whole history, not just the receipt. Persons in
no trap are `ORDINARY`. A pair of persons from two traps counts in both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.quality.scoring import Pairs, pairs, pairs_involving
from bullseye_devtools.quality.truth import Truth, blocked, identifiers
from bullseye_devtools.traffic.journeys import Journeys

ORDINARY = "ordinary"


@dataclass(frozen=True)
class TrapQuality:
    persons: int
    events: int
    unscorable: int
    not_resolved: int  # sent, never on RESOLVED: rejected by ingestion
    pairs: Pairs


def trap_of_event(journeys: Journeys) -> dict[str, str]:
    return {e: journeys.trap_of.get(person, ORDINARY) for e, person in journeys.person_of.items()}


def by_trap(journeys: Journeys, truth: Truth, final: Mapping[str, str]) -> dict[str, TrapQuality]:
    """Each trap's figures, `ORDINARY` included, over `final` (event id -> resolved person)."""
    trap = trap_of_event(journeys)
    involving = pairs_involving(truth, final, trap)
    persons = Counter(journeys.trap_of.get(p, ORDINARY) for p in set(journeys.person_of.values()))
    events, unscorable = Counter(trap.values()), Counter(trap[e] for e in truth.why)
    lost = Counter(trap[e] for e in journeys.person_of if e not in final)
    return {
        name: TrapQuality(persons[name], events[name], unscorable[name], lost[name], involving[name])
        for name in sorted(persons)
    }


def _members(truth: Truth, final: Mapping[str, str]) -> list[Counter[int]]:
    """Each resolved person's scorable events, counted per true person."""
    members: dict[str, Counter[int]] = {}
    for event_id, person in truth.person.items():
        if guess := final.get(event_id):
            members.setdefault(guess, Counter())[person] += 1
    return list(members.values())


def strangers_together(truth: Truth, final: Mapping[str, str]) -> int:
    """Pairs of true persons that share a resolved person (pairs of persons, not of events)."""
    return pairs(len(persons) for persons in _members(truth, final))


def wrong_pairs_by_traps(truth: Truth, final: Mapping[str, str], trap_of: Mapping[int, str]) -> Counter[str]:
    """Wrong pairs by the traps of the two strangers put together ("till+till", ...)."""
    wrong: Counter[str] = Counter()
    for persons in _members(truth, final):
        found = sorted(persons.items())
        for i, (first, n) in enumerate(found):
            for second, m in found[i + 1 :]:
                names = sorted((trap_of.get(first, ORDINARY), trap_of.get(second, ORDINARY)))
                wrong["+".join(names)] += n * m
    return wrong


def bridges(events: Iterable[ev.Event], person_of: Mapping[str, int], final: Mapping[str, str]) -> Counter[str]:
    """What glued strangers: the identifier types (shared, or a placeholder) that persons put
    together used in common, each with the number of resolved persons it joined strangers in."""
    used: dict[str, dict[tuple[str, str], set[int]]] = {}
    for event in events:
        if guess := final.get(event.event_id):
            for key in identifiers(event):
                used.setdefault(guess, {}).setdefault(key, set()).add(person_of[event.event_id])
    found: Counter[str] = Counter()
    for keys in used.values():
        kinds = {
            f"{key[0]} ({'placeholder' if blocked(key) else 'shared'})" for key, who in keys.items() if len(who) > 1
        }
        found.update(kinds)
    return found


def _kind(key: tuple[str, str]) -> str:
    return f"{key[0]} ({'placeholder' if blocked(key) else 'shared'})"
