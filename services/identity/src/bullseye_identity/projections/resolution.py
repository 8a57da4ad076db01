"""Resolution: the exactly-once projection of EVENTS into the graph and the RESOLVED stream.

Every event is attributed to one person (rules: domain/decide.py) and published, with its
personal data removed, through the outbox in the same transaction as the graph change, so
a crash anywhere leaves either both or neither.

The projection reads EVENTS in ONE total order (all partitions as one consumer, see
`ALL_PARTITIONS`): an event's person depends on every earlier event whatever its partition,
and only a fixed order makes a replay after kill -9 produce the same persons and the same
RESOLVED records as an undisturbed run. Person ids are derived from the event that created
the person, for the same reason. Operators' corrections are records of the same order
(docs/design.md D1), applied where they stand (corrections/apply.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform import sealing
from bullseye_platform.eventlog import CORRECTION_KIND, LogRecord, kind_of
from bullseye_platform.store.pool import Connection
from opentelemetry import metrics

from bullseye_identity.corrections.apply import Corrections
from bullseye_identity.domain.decide import Decision, decide
from bullseye_identity.domain.ids import person_id_for
from bullseye_identity.domain.policy import Key, Policy
from bullseye_identity.graph import sql
from bullseye_identity.graph.changes import Cause, GraphChanges
from bullseye_identity.graph.facts import Facts, without_personal
from bullseye_identity.graph.workset import ResolutionRow, Workset
from bullseye_identity.projections.extract import Extracted, extract
from bullseye_identity.vault import contacts
from bullseye_identity.vault.keyring import KeyRing

LINKED = "identifier-shared"
# What a rebuild empties: everything derived from EVENTS, operators' corrections included.
# Never `data_keys`: emptying it would shred every person's personal data.
OWNED_TABLES = (
    "persons", "identifiers", "resolutions", "history", "conflict_pairs", "value_claims", "blocked_values", "contacts",
    "corrections",
)  # fmt: skip


def _parsed(data: bytes) -> ev.Event:
    """An EVENTS record, without fields this version does not know: ingestion drops them
    before appending, and nothing unknown may ride along into RESOLVED."""
    event = ev.Event.FromString(data)
    event.DiscardUnknownFields()
    return event


def occurred_at(event: ev.Event) -> datetime:
    return datetime.fromtimestamp(event.occurred_at.seconds + event.occurred_at.nanos / 1e9, UTC)


class Resolution:
    """The Projection (libs/platform projection.py) that resolves EVENTS."""

    owned_tables: Sequence[str] = OWNED_TABLES

    def __init__(self, *, name: str, keyring: KeyRing, policy: Policy, facts: Facts) -> None:
        self.name = name
        self._keyring, self._policy, self._facts = keyring, policy, facts
        self._changes = GraphChanges(facts, max_persons_per_value=policy.max_persons_per_value)
        self._corrections = Corrections(changes=self._changes, facts=facts, policy=policy)
        self._duplicates = metrics.get_meter("bullseye.identity").create_counter(
            "identity_duplicate_events", description="events whose id was resolved before (not published again)"
        )

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        await conn.execute(sql.LOCK, sql.GRAPH_LOCK_ID)
        for run in runs(records):
            if is_correction(run[0]):
                await self._corrections.apply(conn, run[0])
            else:
                await self._resolve_all(conn, run)

    async def _resolve_all(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        """Resolve consecutive events: their identifiers loaded at once, their changes flushed at once."""
        events = [_parsed(r.data) for r in records]
        extracted = [await extract(conn, self._keyring, e, self._policy) for e in events]
        ws = Workset(conn)
        await ws.load_keys([k for x in extracted for k in x.keys], [e.event_id for e in events])
        for record, event, found in zip(records, events, extracted, strict=True):
            await self._resolve(ws, record, event, found)
        await ws.flush()

    async def _resolve(self, ws: Workset, record: LogRecord, event: ev.Event, found: Extracted) -> None:
        if event.event_id in ws.resolved:
            self._duplicates.add(1)
            return
        keys = [k for k in found.keys if k not in ws.blocked]
        owner = {k: p for k in keys if (p := ws.owner(k)) is not None}
        persons = {p: ws.view(p) for p in owner.values()}
        decision = decide(keys, owner, persons, self._policy, new_person_id=person_id_for(event.event_id))
        # The facts an event causes continue its trace (a span per event would cost more
        # than resolving it; the runner's span covers the batch).
        cause = Cause(LINKED, event.event_id, occurred_at(event), record.headers)
        self._change_graph(ws, record, event, keys, decision, cause)
        await self._record_contacts(ws, event, found)
        without_personal(event)
        ws.emit(self._facts.resolved(decision.person_id, event, seq=record.seq, headers=cause.headers))

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

    def _change_graph(
        self, ws: Workset, record: LogRecord, event: ev.Event, keys: list[Key], decision: Decision, cause: Cause
    ) -> None:
        person = decision.person_id
        if decision.created:
            ws.create_person(person, seq=record.seq, at=cause.at)
        for merge in decision.merges:
            self._changes.merge(ws, merge.survivor, merge.merged, rule=merge.rule, cause=cause)
        for key in decision.attach:
            ws.attach(key, person, seen=cause.at, source=event.receipt.source)
        mine = [k for k in keys if ws.owner(k) == person]
        for key in mine:
            ws.touch(key, seen=cause.at)
        for conflict in decision.conflicts:
            self._changes.refuse(ws, conflict, cause=cause)
        primary = mine[0] if mine else ("", "")
        ws.add_resolution(ResolutionRow(event.event_id, person, record.seq, primary))


def is_correction(record: LogRecord) -> bool:
    return kind_of(record.subject) == CORRECTION_KIND


def runs(records: Sequence[LogRecord]) -> Iterator[Sequence[LogRecord]]:
    """`records` in order, as runs of consecutive events and corrections one by one.

    A correction changes rows that a run's workset may hold in memory, so the events before
    it are flushed first and those after it load the graph afresh.
    """
    run: list[LogRecord] = []
    for record in records:
        if not is_correction(record):
            run.append(record)
            continue
        if run:
            yield run
            run = []
        yield [record]
    if run:
        yield run
