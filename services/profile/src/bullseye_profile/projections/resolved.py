"""The profile projection of RESOLVED: events into the journal, identity facts applied in order.

Runs under the platform's ProjectionRunner, so each batch is applied exactly once; merges and
splits are applied by the platform's person handling (bullseye_platform.persons) to the
journal rows. At the end of a live batch, in the same transaction, segment membership is
refreshed for every person the batch touched. A rebuild's replay applies batches quietly
(journal and stored bases only) and its end reconciles once (bullseye_platform.replay).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bullseye.identity.v1 import resolved_pb2
from bullseye_platform.eventlog import LogRecord, partition_of
from bullseye_platform.persons import apply_resolved
from bullseye_platform.projection import positions
from bullseye_platform.store import bulk_upsert
from bullseye_platform.store.pool import Connection

from bullseye_profile.projections.journal import COLUMNS, row_for
from bullseye_profile.reading import bases
from bullseye_profile.reading.cache import ReadCache

NAME = "profile"
Cause = tuple[int, int]  # the RESOLVED record whose fold made a change: (partition, stream sequence)


class Refresh(Protocol):
    """segments.membership.refresh: re-evaluates segments for the persons a change touched;
    `causes` names, per person, the RESOLVED record whose fold touched them (those without one: FoldedThrough)."""

    def __call__(
        self, conn: Connection, person_ids: Sequence[str], now: datetime, causes: Mapping[str, Cause] | None = None
    ) -> Awaitable[None]: ...


ReplayEnd = Callable[[Connection], Awaitable[None]]


@dataclass(frozen=True)
class FoldedThrough:
    """Where profile's fold of RESOLVED stands, as the cause of a change no record made (a new
    rule, an RFM run, time): the position of each person's partition, read after their state,
    covers every record that state was folded from. A reader of both streams (campaign) then
    acts on the change only once it has folded those records too (their consent among them)."""

    stream: str
    partitions: int

    async def causes(self, conn: Connection, person_ids: Sequence[str]) -> dict[str, Cause]:
        reached = await positions(conn, NAME, self.stream)
        found = {person: partition_of(person, self.partitions) for person in person_ids}
        return {person: (partition, reached[partition]) for person, partition in found.items() if partition in reached}


OWNED_TABLES = ("journal", "person_aliases", "rfm_scores", "population_stats", "profile_snapshots")


async def _nothing_held_back(conn: Connection) -> None:
    """A projection that never replays quietly has nothing to catch up on."""


class ResolvedProjection:
    """The journal, as `bullseye_platform.persons.PersonRows` and as a Replayable projection."""

    name = NAME
    owned_tables: Sequence[str] = OWNED_TABLES

    def __init__(
        self, *, now: Callable[[], datetime], refresh: Refresh, partitions: int, cache: ReadCache | None = None,
        replay_end: ReplayEnd = _nothing_held_back,
    ) -> None:  # fmt: skip
        self._now, self._refresh, self._replay_end = now, refresh, replay_end
        self._partitions = partitions  # RESOLVED's: a person's records are on partition_of(person)
        self._cache = cache or ReadCache(0)  # this process's GetProfile bases (reading/cache.py)

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        changed = await self._fold(conn, records)
        if changed:
            with self._cache.changing(changed):
                await bases.invalidate(conn, changed)
                await self._refresh(conn, changed, self._now(), self._causes(records, changed))

    def _causes(self, records: Sequence[LogRecord], persons: Sequence[str]) -> dict[str, Cause]:
        """Each person's RESOLVED partition and the last record of it in the batch (a person
        merged into another this batch may have none: their change names where the fold stands)."""
        reached = {record.partition: record.seq for record in records}  # in stream order: the last wins
        causes = {}
        for person in persons:
            partition = partition_of(person, self._partitions)
            if partition in reached:
                causes[person] = (partition, reached[partition])
        return causes

    async def apply_quietly(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        changed = await self._fold(conn, records)
        if changed:
            with self._cache.changing(changed):
                await bases.invalidate(conn, changed)

    async def replay_ended(self, conn: Connection) -> None:
        await self._replay_end(conn)

    async def _fold(self, conn: Connection, records: Sequence[LogRecord]) -> list[str]:
        return sorted(await apply_resolved(conn, records, self))

    async def add(self, conn: Connection, events: Sequence[tuple[str, resolved_pb2.ResolvedEvent]]) -> set[str]:
        rows: dict[str, tuple[Any, ...]] = {}
        for owner, resolved in events:
            row = row_for(owner, resolved.event)
            if row is not None:
                rows.setdefault(row[0], row)  # the same event twice in one batch: once
        # ON CONFLICT DO NOTHING on event_id: an event seen again (after the log's
        # duplicate window) is not counted twice.
        await bulk_upsert(conn, table="journal", columns=COLUMNS, rows=list(rows.values()), key=["event_id"], update=[])
        return {row[1] for row in rows.values()}

    async def repoint(self, conn: Connection, merged: str, survivor: str) -> None:
        await conn.execute("UPDATE journal SET person_id = $1 WHERE person_id = $2", survivor, merged)
        # The merged person's RFM standing is void; the survivor's is refreshed at the next run.
        await conn.execute("DELETE FROM rfm_scores WHERE person_id = $1", merged)

    async def move(self, conn: Connection, target: str, event_ids: Sequence[str]) -> set[str]:
        rows = await conn.fetch(
            "UPDATE journal j SET person_id = $1 FROM journal old "
            "WHERE j.event_id = old.event_id AND j.event_id = ANY($2::text[]) RETURNING old.person_id",
            target, list(event_ids),
        )  # fmt: skip
        return {r["person_id"] for r in rows}
