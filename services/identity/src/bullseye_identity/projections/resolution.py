"""Resolution: the exactly-once projection of EVENTS into the graph and the RESOLVED stream.

Every event is attributed to one person (rules: domain/decide.py) and published, with its
personal data removed, through the outbox in the same transaction as the graph change, so
a crash anywhere leaves either both or neither.

The projection reads EVENTS in ONE total order (all partitions as one consumer, see
`ALL_PARTITIONS`): an event's person depends on every earlier event whatever its partition,
and only a fixed order makes a replay after kill -9 produce the same persons and the same
RESOLVED records as an undisturbed run. Person ids are derived from the event that created
the person, for the same reason. Operators' corrections are records of the same order
(docs/design.md D1), applied where they stand (corrections/apply.py); a value found shared
heals the persons it glued where the event that shows it stands (projections/resolver.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from bullseye_platform.eventlog import CORRECTION_KIND, LogRecord, kind_of
from bullseye_platform.store.pool import Connection

from bullseye_identity.corrections.apply import Corrections
from bullseye_identity.domain.policy import Policy
from bullseye_identity.graph import sql
from bullseye_identity.graph.changes import GraphChanges
from bullseye_identity.graph.facts import Facts
from bullseye_identity.projections.resolver import EventResolver
from bullseye_identity.vault.keyring import KeyRing

# What a rebuild empties: everything derived from EVENTS, operators' corrections included.
# Never `data_keys`: emptying it would shred every person's personal data.
OWNED_TABLES = (
    "persons", "identifiers", "resolutions", "history", "conflict_pairs", "value_claims", "shared_values", "contacts",
    "corrections", "merge_links",
)  # fmt: skip


class Resolution:
    """The Projection (libs/platform projection.py) that resolves EVENTS."""

    owned_tables: Sequence[str] = OWNED_TABLES

    def __init__(self, *, name: str, keyring: KeyRing, policy: Policy, facts: Facts) -> None:
        self.name = name
        changes = GraphChanges(facts, max_persons_per_value=policy.max_persons_per_value)
        self._events = EventResolver(keyring=keyring, policy=policy, facts=facts, changes=changes)
        self._corrections = Corrections(changes=changes, facts=facts, policy=policy)

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        await conn.execute(sql.LOCK, sql.GRAPH_LOCK_ID)
        for run in runs(records):
            if is_correction(run[0]):
                await self._corrections.apply(conn, run[0])
            else:
                await self._events.resolve_all(conn, run)


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
