"""Who is who, for every consumer of RESOLVED: events under their person, merges and splits applied.

RESOLVED carries events attributed to a person and identity's corrections of that
attribution: two persons merged into a survivor, events split off to a new person. A service
that keeps something per person (profile's journal, recommendation's interactions, campaign's
deliveries) applies them the same way:

- a merge re-points the merged person's rows at the survivor and records an alias, so
  nothing is counted twice and later records that still name the merged person land on the
  survivor; aliases always name the final survivor;
- a split moves exactly the listed events to the new person, whoever holds them by then:
  identity publishes a split in the partition of each event it moves, after the event
  (resolved.proto), but a merge that folded the event's person into the split person may sit
  in another partition and, in a replay that reads partitions side by side, come later. Every
  fact that moves an event is in the event's partition, in identity's order, so the last one
  applied here is the last one identity applied;
- identity facts apply to everything before them in the partition, so the events read so far
  are written first.

The service keeps `person_aliases (person_id text PRIMARY KEY, survivor_id text NOT NULL)`
with an index on survivor_id in its schema (a migration of its own) and says how its rows move
(`PersonRows`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from bullseye.identity.v1 import resolved_pb2

from bullseye_platform.eventlog.consumer import LogRecord
from bullseye_platform.store.pool import Connection

# Batches of different partitions run in concurrent transactions. One that resolved an alias
# before a merge committed would write rows under the merged id after the merge moved them,
# and they would stay there; so batches with identity facts hold this lock exclusively and
# the others share it, and aliases are resolved only once it is held.
_LOCK = "SELECT {}(hashtext(current_schema() || '.person_aliases'))"


class PersonRows(Protocol):
    """What a consumer keeps per person, and how identity's corrections move it."""

    async def add(self, conn: Connection, events: Sequence[tuple[str, resolved_pb2.ResolvedEvent]]) -> set[str]:
        """Store (owner, event) pairs, the owner being the person's survivor; returns the
        persons whose state changed."""

    async def repoint(self, conn: Connection, merged: str, survivor: str) -> None:
        """Give every row of `merged` to `survivor`."""

    async def move(self, conn: Connection, target: str, event_ids: Sequence[str]) -> set[str]:
        """Give the rows made from `event_ids` to `target`, whoever holds them; returns who held them."""


async def lock_aliases(conn: Connection, *, exclusive: bool) -> None:
    """Hold the alias lock until the transaction ends (see _LOCK)."""
    await conn.execute(_LOCK.format("pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"))


async def canonical(conn: Connection, person_ids: Iterable[str]) -> dict[str, str]:
    """person id -> the person it belongs to now (itself unless merged away)."""
    ids = sorted(set(person_ids))
    rows = await conn.fetch("SELECT person_id, survivor_id FROM person_aliases WHERE person_id = ANY($1::text[])", ids)
    found = {r["person_id"]: r["survivor_id"] for r in rows}
    return {pid: found.get(pid, pid) for pid in ids}


async def apply_resolved(conn: Connection, records: Sequence[LogRecord], rows: PersonRows) -> set[str]:
    """Apply a batch of RESOLVED records in order; returns the persons whose state changed."""
    facts = [resolved_pb2.ResolvedRecord.FromString(record.data) for record in records]
    await lock_aliases(conn, exclusive=any(f.WhichOneof("kind") != "event" for f in facts))
    changed: set[str] = set()
    pending: list[resolved_pb2.ResolvedEvent] = []
    for fact in facts:
        kind = fact.WhichOneof("kind")
        if kind == "event":
            pending.append(fact.event)
            continue
        changed |= await _add(conn, pending, rows)  # identity facts apply to everything before them
        pending = []
        if kind == "merged":
            changed |= await _merge(conn, fact.merged, rows)
        elif kind == "split":
            changed |= await _split(conn, fact.split, rows)
    return changed | await _add(conn, pending, rows)


async def _add(conn: Connection, events: Sequence[resolved_pb2.ResolvedEvent], rows: PersonRows) -> set[str]:
    if not events:
        return set()
    owner = await canonical(conn, (e.person_id for e in events))
    return await rows.add(conn, [(owner[e.person_id], e) for e in events])


async def _merge(conn: Connection, fact: resolved_pb2.PersonsMerged, rows: PersonRows) -> set[str]:
    """Fold the merged person into the survivor; returns the persons whose state changed."""
    ids = await canonical(conn, [fact.survivor_person_id, fact.merged_person_id])
    survivor, merged = ids[fact.survivor_person_id], ids[fact.merged_person_id]
    if survivor == merged:  # already folded (a repeated or transitive merge)
        return set()
    await rows.repoint(conn, merged, survivor)
    await conn.execute("UPDATE person_aliases SET survivor_id = $1 WHERE survivor_id = $2", survivor, merged)
    await conn.execute(
        "INSERT INTO person_aliases (person_id, survivor_id) VALUES ($1, $2) "
        "ON CONFLICT (person_id) DO UPDATE SET survivor_id = EXCLUDED.survivor_id",
        merged,
        survivor,
    )
    return {survivor, merged, fact.merged_person_id}


async def _split(conn: Connection, fact: resolved_pb2.PersonSplit, rows: PersonRows) -> set[str]:
    """Move the listed events to the new person (whoever holds them: see the module's
    docstring); returns the persons whose state changed."""
    ids = await canonical(conn, [fact.person_id, fact.new_person_id])
    source, target = ids[fact.person_id], ids[fact.new_person_id]
    return {source, target, *await rows.move(conn, target, list(fact.moved_event_ids))}
