"""Identity facts on the journal: aliases, merges and splits.

A merge re-points the merged person's journal rows at the survivor and records an alias,
so every count is folded exactly once (rows move, nothing is added up twice). A split moves
exactly the listed events to the new person. Aliases always name the final survivor.
"""

from __future__ import annotations

from collections.abc import Iterable

from bullseye.identity.v1 import resolved_pb2
from bullseye_platform.store.pool import Connection

# Event batches of different partitions run in concurrent transactions. One that resolved an
# alias before a merge committed would write rows under the merged id after the merge moved
# them, and they would stay there; so batches with identity facts hold this lock exclusively
# and the others share it, and aliases are resolved only once it is held.
_LOCK = "SELECT {}(hashtext(current_schema() || '.person_aliases'))"


async def lock_aliases(conn: Connection, *, exclusive: bool) -> None:
    """Hold the alias lock until the transaction ends (see _LOCK)."""
    await conn.execute(_LOCK.format("pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"))


async def canonical(conn: Connection, person_ids: Iterable[str]) -> dict[str, str]:
    """person id -> the person it belongs to now (itself unless merged away)."""
    ids = sorted(set(person_ids))
    rows = await conn.fetch("SELECT person_id, survivor_id FROM person_aliases WHERE person_id = ANY($1::text[])", ids)
    found = {r["person_id"]: r["survivor_id"] for r in rows}
    return {pid: found.get(pid, pid) for pid in ids}


async def merge(conn: Connection, fact: resolved_pb2.PersonsMerged) -> set[str]:
    """Fold the merged person into the survivor; returns the persons whose profile changed."""
    ids = await canonical(conn, [fact.survivor_person_id, fact.merged_person_id])
    survivor, merged = ids[fact.survivor_person_id], ids[fact.merged_person_id]
    if survivor == merged:  # already folded (a repeated or transitive merge)
        return set()
    await conn.execute("UPDATE journal SET person_id = $1 WHERE person_id = $2", survivor, merged)
    await conn.execute("UPDATE person_aliases SET survivor_id = $1 WHERE survivor_id = $2", survivor, merged)
    await conn.execute(
        "INSERT INTO person_aliases (person_id, survivor_id) VALUES ($1, $2) "
        "ON CONFLICT (person_id) DO UPDATE SET survivor_id = EXCLUDED.survivor_id",
        merged,
        survivor,
    )
    # The merged person's RFM standing is void; the survivor's is refreshed at the next run.
    await conn.execute("DELETE FROM rfm_scores WHERE person_id = $1", merged)
    return {survivor, merged, fact.merged_person_id}


async def split(conn: Connection, fact: resolved_pb2.PersonSplit) -> set[str]:
    """Move the listed events to the new person, whoever holds them now; returns the persons
    whose profile changed.

    Whoever: identity publishes a split in the partition of each event it moves, after the
    event (resolved.proto), but a merge that folded the event's person into the split person
    may sit in another partition and, in a replay that reads partitions side by side, come
    later. Every fact that moves an event is in the event's partition, in identity's order,
    so the last one applied here is the last one identity applied.
    """
    ids = await canonical(conn, [fact.person_id, fact.new_person_id])
    source, target = ids[fact.person_id], ids[fact.new_person_id]
    rows = await conn.fetch(
        "UPDATE journal j SET person_id = $1 FROM journal old "
        "WHERE j.event_id = old.event_id AND j.event_id = ANY($2::text[]) RETURNING old.person_id",
        target,
        list(fact.moved_event_ids),
    )
    return {source, target, *(r["person_id"] for r in rows)}
