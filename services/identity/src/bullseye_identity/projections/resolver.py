"""One run of consecutive events resolved: each decided (domain/decide.py), healed first when a
refused link shows a value shared (domain/sharing.py, graph/healing.py), then applied.

The run's identifiers are loaded at once and its changes flushed at once (graph/workset.py).
A healing split changes rows the workset holds, so the events before it are flushed first,
the split runs on the database, and the workset loads again what it changed (the healed
persons and their identifiers). Healings are rare (a value is shared once), but each costs a
few round trips: reloading only what changed keeps it to that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform import sealing
from bullseye_platform.eventlog import LogRecord
from bullseye_platform.store.pool import Connection
from opentelemetry import metrics

from bullseye_identity.domain.decide import Decision, decide
from bullseye_identity.domain.ids import person_id_for
from bullseye_identity.domain.policy import USER_ID, Key, Policy
from bullseye_identity.domain.sharing import MANY_PERSONS, Cut, cuts
from bullseye_identity.graph.changes import STRONG, WEAK, Cause, GraphChanges
from bullseye_identity.graph.facts import Facts, without_personal
from bullseye_identity.graph.healing import Healing, Occasion
from bullseye_identity.graph.workset import ResolutionRow, Workset
from bullseye_identity.projections.extract import Extracted, extract
from bullseye_identity.vault import contacts
from bullseye_identity.vault.keyring import KeyRing

LINKED = "identifier-shared"
# Healing rounds before an event is decided for good: a cut value is shared or gone from the
# refused person, so a second round is already rare.
ROUNDS = 3


def _parsed(data: bytes) -> ev.Event:
    """An EVENTS record, without fields this version does not know: ingestion drops them
    before appending, and nothing unknown may ride along into RESOLVED."""
    event = ev.Event.FromString(data)
    event.DiscardUnknownFields()
    return event


def occurred_at(event: ev.Event) -> datetime:
    return datetime.fromtimestamp(event.occurred_at.seconds + event.occurred_at.nanos / 1e9, UTC)


@dataclass(frozen=True)
class Run:
    """Consecutive events, their identifiers, and the workset they are resolved in."""

    conn: Connection
    records: Sequence[LogRecord]
    events: Sequence[ev.Event]
    extracted: Sequence[Extracted]
    ws: Workset


class EventResolver:
    """Resolves runs of events (the projection hands it everything but corrections)."""

    def __init__(self, *, keyring: KeyRing, policy: Policy, facts: Facts, changes: GraphChanges) -> None:
        self._keyring, self._policy, self._facts, self._changes = keyring, policy, facts, changes
        self._healing = Healing(changes=changes, facts=facts)
        self._user_id_rule = policy.limit_rule(USER_ID)
        self._duplicates = metrics.get_meter("bullseye.identity").create_counter(
            "identity_duplicate_events", description="events whose id was resolved before (not published again)"
        )

    async def resolve_all(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        events = [_parsed(r.data) for r in records]
        extracted = [await extract(conn, self._keyring, e, self._policy) for e in events]
        run = Run(conn, records, events, extracted, Workset(conn))
        await run.ws.load_keys([k for found in extracted for k in found.keys], [e.event_id for e in events])
        for index in range(len(records)):
            await self._resolve(run, index)
        await run.ws.flush()

    async def _resolve(self, run: Run, index: int) -> None:
        record, event, found = run.records[index], run.events[index], run.extracted[index]
        if event.event_id in run.ws.resolved:
            self._duplicates.add(1)
            return
        strong = any(k[0] == USER_ID for k in found.keys)
        # The facts an event causes continue its trace (a span per event would cost more
        # than resolving it; the runner's span covers the batch).
        cause = Cause(LINKED, event.event_id, occurred_at(event), record.headers, strength=STRONG if strong else WEAK)
        keys, owner, decision = await self._healed(run.ws, event, found, Occasion(cause, record.seq, 0))
        self._change_graph(run.ws, record, event, keys, owner, decision, cause)
        await self._record_contacts(run.ws, event, found)
        without_personal(event)
        run.ws.emit(self._facts.resolved(decision.person_id, event, seq=record.seq, headers=cause.headers))
        # Too many persons' claims made values shared: their persons heal after the event.
        shared = [Cut(p, MANY_PERSONS, frozenset({k})) for k in run.ws.newly_shared if (p := run.ws.owner(k))]
        run.ws.newly_shared.clear()
        if shared:
            await self._heal(run.ws, shared, Occasion(cause, record.seq, ROUNDS))

    async def _record_contacts(self, ws: Workset, event: ev.Event, found: Extracted) -> None:
        """The vault keeps what the event gave as contacts of its subject, as trusted as its source."""
        given = [data for data in (found.personal, found.contact) if data is not None]
        if not given:
            return
        subject = self._keyring.stored_subject(sealing.subject_of(event.identifiers, found.contact))
        verified = event.receipt.trust != ev.SOURCE_TRUST_UNVERIFIED  # unset: stored before trust levels
        for data in given:
            await contacts.record(
                ws.conn, self._keyring, subject=subject, personal=data, event=event, verified=verified
            )

    async def _healed(self, ws: Workset, event: ev.Event, found: Extracted,
                      occasion: Occasion) -> tuple[list[Key], dict[Key, str], Decision]:  # fmt: skip
        """The event's decision, once the persons its refused links showed glued are healed."""
        strong = occasion.cause.strength == STRONG
        for round_ in range(ROUNDS):
            keys, owner, decision = self._decide(ws, event, found, strong=strong)
            if not decision.conflicts or round_ == ROUNDS - 1:
                break
            known = {k for k in owner if ws.idents[k].strong}
            found_cuts = cuts(decision, keys, owner, strong=strong, strong_keys=known, user_id_rule=self._user_id_rule)
            if not found_cuts:
                break
            for conflict in decision.conflicts:
                self._changes.tally(conflict)
            await self._heal(ws, found_cuts, replace(occasion, round=round_))
        return keys, owner, decision

    def _decide(self, ws: Workset, event: ev.Event, found: Extracted, *,
                strong: bool) -> tuple[list[Key], dict[Key, str], Decision]:  # fmt: skip
        keys = [k for k in found.keys if k not in ws.shared]
        owner = {k: p for k in keys if (p := ws.owner(k)) is not None}
        persons = {p: ws.view(p) for p in owner.values()}
        new_person = person_id_for(event.event_id)
        return keys, owner, decide(keys, owner, persons, self._policy, new_person_id=new_person, strong=strong)

    async def _heal(self, ws: Workset, found: Sequence[Cut], occasion: Occasion) -> None:
        """Write what is resolved, heal each cut person (on the database, in a workset of its
        own), then load again what the healing changed: those persons and their identifiers."""
        await ws.flush()
        for cut in found:
            await self._healing.heal(Workset(ws.conn), cut, occasion)
        await ws.load_keys(ws.forget({cut.person_id for cut in found}))

    def _change_graph(self, ws: Workset, record: LogRecord, event: ev.Event, keys: list[Key], owner: dict[Key, str],
                      decision: Decision, cause: Cause) -> None:  # fmt: skip
        person = decision.person_id
        if decision.created:
            ws.create_person(person, seq=record.seq, at=cause.at)
        for merge in decision.merges:
            if cause.strength == WEAK:  # a logged-out event joining persons: its values saw both
                for key in keys:
                    if owner.get(key) in (merge.survivor, merge.merged):
                        self._changes.claim(ws, key, (merge.survivor, merge.merged), cause=cause)
            self._changes.merge(ws, merge.survivor, merge.merged, rule=merge.rule, cause=cause, key=merge.key)
        via = next((k for k in keys if owner.get(k) == person), ("", ""))
        for key in decision.attach:
            ws.attach(key, person, seen=cause.at, source=event.receipt.source, cause_event_id=event.event_id, via=via)
        mine = [k for k in keys if ws.owner(k) == person]
        for key in mine:
            ws.touch(key, seen=cause.at, strong=cause.strength == STRONG)
        for conflict in decision.conflicts:
            self._changes.refuse(ws, conflict, cause=cause)
        primary = mine[0] if mine else ("", "")
        ws.add_resolution(ResolutionRow(event.event_id, person, record.seq, primary, keys))
