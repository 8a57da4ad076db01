"""Merges and refused links: one implementation for the projection and the operators' RPCs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from opentelemetry import metrics

from bullseye_identity.domain.decide import Conflict
from bullseye_identity.graph.facts import Facts
from bullseye_identity.graph.workset import HistoryRow, Workset

MERGED, SPLIT, CONFLICT = "merged", "split", "conflict"
# The reason and rule of an operator's correction (an event's are "identifier-shared" and its type).
MANUAL = "manual"


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
        self._blocked = meter.create_counter(
            "identity_blocked_values", description="identifiers blocked for being on too many persons, by type"
        )

    def merge(self, ws: Workset, survivor: str, merged: str, *, rule: str, cause: Cause) -> None:
        """Fold `merged` into `survivor`, record it on both, and queue the PersonsMerged fact
        (before anything the caller queues next: the cause's own record comes after it)."""
        ws.merge(survivor, merged)
        for person, other, survived in ((survivor, merged, True), (merged, survivor, False)):
            row = HistoryRow(person, MERGED, other, survived, cause.history_reason, rule, cause.event_id, cause.at)
            ws.add_history(row)
        ws.emit(
            self._facts.merged(
                survivor, merged, reason=cause.reason, rule=rule, cause_event_id=cause.event_id, at=cause.at,
                headers=cause.headers,
            )
        )  # fmt: skip
        self._merges.add(1, {"reason": cause.reason, "rule": rule})

    def refuse(self, ws: Workset, conflict: Conflict, *, cause: Cause) -> None:
        """Record a refused link on the persons involved (once per pair and rule) and count it
        (every time); count the claims on its identifiers."""
        pairs = [(conflict.person_id, conflict.other_person_id)]
        if conflict.other_person_id:
            pairs.append((conflict.other_person_id, conflict.person_id))
        refused = ",".join(f"{key[0]}:{key[1]}" for key, _ in conflict.claims)
        reason, rule = cause.history_reason, conflict.rule
        for person, other in pairs:
            once = (person, other or refused, rule)
            ws.add_history(HistoryRow(person, CONFLICT, other, False, reason, rule, cause.event_id, cause.at, once))
        self._conflicts.add(1, {"rule": conflict.rule})
        for key, persons in conflict.claims:
            if ws.claim(key, persons, limit=self._max_persons, cause_event_id=cause.event_id):
                self._blocked.add(1, {"type": key[0]})
