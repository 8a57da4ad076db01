"""The profile projection of RESOLVED: events into the journal, identity facts applied in order.

Runs under the platform's ProjectionRunner, so each batch is applied exactly once; at the
end of the batch, in the same transaction, segment membership is refreshed for every
person the batch touched (except while a rebuild replays the log: see replay.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from bullseye.identity.v1 import resolved_pb2
from bullseye_platform.eventlog import LogRecord
from bullseye_platform.store import bulk_upsert
from bullseye_platform.store.pool import Connection

from bullseye_profile import snapshots
from bullseye_profile.projections import persons
from bullseye_profile.projections.journal import COLUMNS, row_for
from bullseye_profile.projections.replay import Replay
from bullseye_profile.read_cache import ReadCache

# segments.membership.refresh: re-evaluates segments for the persons a change touched.
Refresh = Callable[[Connection, Sequence[str], datetime], Awaitable[None]]
OWNED_TABLES = ("journal", "person_aliases", "rfm_scores", "population_stats", "profile_snapshots")


class ResolvedProjection:
    owned_tables: Sequence[str] = OWNED_TABLES

    def __init__(
        self, *, now: Callable[[], datetime], refresh: Refresh, name: str = "profile", replay: Replay | None = None,
        cache: ReadCache | None = None,
    ) -> None:  # fmt: skip
        self.name = name
        self._now, self._refresh = now, refresh
        self._cache = cache or ReadCache(0)  # this process's GetProfile bases (read_cache.py)
        self._replay = replay or Replay()

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        changed: set[str] = set()
        pending: list[resolved_pb2.ResolvedEvent] = []
        facts = [resolved_pb2.ResolvedRecord.FromString(record.data) for record in records]
        await persons.lock_aliases(conn, exclusive=any(f.WhichOneof("kind") != "event" for f in facts))
        for fact in facts:
            kind = fact.WhichOneof("kind")
            if kind == "event":
                pending.append(fact.event)
                continue
            # Identity facts apply to everything before them, so the events read so far go first.
            changed |= await self._write(conn, pending)
            pending = []
            if kind == "merged":
                changed |= await persons.merge(conn, fact.merged)
            elif kind == "split":
                changed |= await persons.split(conn, fact.split)
        changed |= await self._write(conn, pending)
        if not changed:
            return
        with self._cache.changing(changed):
            await snapshots.invalidate(conn, sorted(changed))  # stored GetProfile bases (snapshots.py)
            if not self._replay.covers(records):
                await self._refresh(conn, sorted(changed), self._now())
        await self._replay.advance(conn, records)

    async def _write(self, conn: Connection, events: Sequence[resolved_pb2.ResolvedEvent]) -> set[str]:
        if not events:
            return set()
        owner = await persons.canonical(conn, (e.person_id for e in events))
        rows: dict[str, tuple[Any, ...]] = {}
        for resolved in events:
            row = row_for(owner[resolved.person_id], resolved.event)
            if row is not None:
                rows.setdefault(row[0], row)  # the same event twice in one batch: once
        # ON CONFLICT DO NOTHING on event_id: an event seen again (after the log's
        # duplicate window) is not counted twice.
        await bulk_upsert(conn, table="journal", columns=COLUMNS, rows=list(rows.values()), key=["event_id"], update=[])
        return {row[1] for row in rows.values()}
