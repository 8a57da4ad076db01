"""Merges and refused links: one implementation for the projection and the operators' RPCs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from opentelemetry import metrics

from bullseye_identity.domain.decide import Conflict
from bullseye_identity.domain.kinds import Key
from bullseye_identity.domain.sharing import MANY_PERSONS
from bullseye_identity.graph.facts import Facts
from bullseye_identity.graph.workset import HistoryRow, Workset

MERGED, SPLIT, CONFLICT, SHARED = "merged", "split", "conflict", "shared"
# The reason and rule of an operator's correction (an event's are "identifier-shared" and its type).
MANUAL = "manual"
# A link's strength: an event with a user id (a login, a sign-up, an identify), one without
# (a logged-out sighting), or an operator's word.
STRONG, WEAK = "strong", "weak"


@dataclass(frozen=True)
class Cause:
    """Why a change happens: the event (or an operator's correction command), when, and its trace.

    `reason` is the fact's ("identifier-shared", "manual"); `note`, an operator's words,
    replaces it in the history.
    """

    reason: str
    event_id: str
    at: datetime
    headers: Mapping[str, str]
    note: str = ""
    strength: str = MANUAL

    @property
    def history_reason(self) -> str:
        return self.note or self.reason


class GraphChanges:
    def __init__(self, facts: Facts, *, max_persons_per_value: int) -> None:
        self._facts, self._max_persons = facts, max_persons_per_value
        meter = metrics.get_meter("bullseye.identity")
        self._merges = meter.create_counter("identity_merges", description="persons merged, by reason and rule")
        self._conflicts = meter.create_counter(
            "identity_conflicts", description="links refused because of a limit, by rule"
        )
        self._shared = meter.create_counter(
            "identity_shared_values",
            description="identifiers marked shared (they link nobody any more), by reason and type",
        )

    def merge(self, ws: Workset, survivor: str, merged: str, *, rule: str, cause: Cause, key: Key = ("", "")) -> None:
        """Fold `merged` into `survivor`, record it on both with its evidence (`key`, the
        identifier it came through, and the cause's strength), and queue the PersonsMerged
        fact (before anything the caller queues next: the cause's own record comes after it)."""
        ws.merge(survivor, merged)
        for person, other, survived in ((survivor, merged, True), (merged, survivor, False)):
            row = HistoryRow(person, MERGED, other, survived, cause.history_reason, rule, cause.event_id, cause.at,
                             identifier=key, strength=cause.strength)  # fmt: skip
            ws.add_history(row)
        ws.emit(
            self._facts.merged(
                survivor, merged, reason=cause.reason, rule=rule, cause_event_id=cause.event_id, at=cause.at,
                headers=cause.headers, key=key, strength=cause.strength,
            )
        )  # fmt: skip
        self._merges.add(1, {"reason": cause.reason, "rule": rule})

    def mark_shared(self, ws: Workset, key: Key, *, reason: str, cause: Cause, persons: int = 1) -> bool:
        """`key` links nobody from now on: recorded (on its person's history too) and counted
        the first time only; False when it was shared already."""
        if not ws.mark_shared(key, persons=persons, cause_event_id=cause.event_id, reason=reason):
            return False
        if (person := ws.owner(key)) is not None:
            ws.add_history(HistoryRow(person, SHARED, "", False, "identifier-shared", reason, cause.event_id, cause.at,
                                      identifier=key))  # fmt: skip
        self._shared.add(1, {"reason": reason, "type": key[0]})
        return True

    def refuse(self, ws: Workset, conflict: Conflict, *, cause: Cause) -> None:
        """Record a refused link on the persons involved (once per pair and rule) and count it
        (every time); count the claims on its identifiers (see `claim`)."""
        pairs = [(conflict.person_id, conflict.other_person_id)]
        if conflict.other_person_id:
            pairs.append((conflict.other_person_id, conflict.person_id))
        refused = ",".join(f"{key[0]}:{key[1]}" for key, _ in conflict.claims)
        reason, rule = cause.history_reason, conflict.rule
        for person, other in pairs:
            once = (person, other or refused, rule)
            ws.add_history(HistoryRow(person, CONFLICT, other, False, reason, rule, cause.event_id, cause.at, once))
        self.tally(conflict)
        for key, persons in conflict.claims:
            self.claim(ws, key, persons, cause=cause)

    def tally(self, conflict: Conflict) -> None:
        """Count a refused link (also one that the values it showed shared then healed)."""
        self._conflicts.add(1, {"rule": conflict.rule})

    def claim(self, ws: Workset, key: Key, persons: tuple[str, ...], *, cause: Cause) -> None:
        """`persons` were seen using `key` (a refused link, or a logged-out event joining
        them): past IDENTITY_MAX_PERSONS_PER_VALUE persons it is marked shared, and its
        person heals after the event (`ws.newly_shared`)."""
        crowded = ws.claim(key, persons, limit=self._max_persons)
        if crowded and self.mark_shared(ws, key, reason=MANY_PERSONS, cause=cause, persons=len(ws.claims[key])):
            ws.newly_shared.append(key)
