"""Split: an operator moves some identifiers of a person, and the events that came through
them, to a new person.

The PersonSplit fact is published once per RESOLVED partition that holds a record of a moved
event, after that record, listing the events of that partition (and once in the split
person's partition). Every fact that moves an event then sits in the event's own partition,
in identity's order, so a consumer that reads partitions independently (a replay reads them
side by side) still moves each event last where identity did: a split person may hold
events that reached it through merges, whose records are in the merged persons' partitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bullseye.identity.v1 import identity_pb2 as pb

from bullseye_identity.domain.policy import Key
from bullseye_identity.graph.changes import MANUAL, SPLIT, Cause
from bullseye_identity.graph.facts import Facts
from bullseye_identity.graph.workset import HistoryRow, Workset

_MOVE_IDENTIFIERS = """
UPDATE identifiers i SET person_id = $1 FROM unnest($2::text[], $3::text[]) AS k(t, v)
WHERE i.id_type = k.t AND i.id_value = k.v
"""
# The events resolved through a moved identifier follow it (resolutions.primary_*); each
# one's record is in the partition of the person it named (resolutions.person_id).
_MOVED_EVENTS = """
SELECT r.event_id, r.events_seq, r.person_id FROM resolutions r JOIN unnest($1::text[], $2::text[]) AS k(t, v)
ON r.primary_type = k.t AND r.primary_value = k.v
ORDER BY r.events_seq
"""


@dataclass(frozen=True)
class SplitDone:
    new_person_id: str
    moved_event_ids: list[str]


async def split(
    ws: Workset, facts: Facts, person: str, keys: Sequence[Key], refs: Sequence[pb.IdentifierRef], *,
    new_person_id: str, cause: Cause,
) -> SplitDone:  # fmt: skip
    """Move `keys` (all of them `person`'s, not all of its keys: the caller checked) to a new person."""
    conn = ws.conn
    types, values = [k[0] for k in keys], [k[1] for k in keys]
    await conn.execute(_MOVE_IDENTIFIERS, new_person_id, types, values)
    moved = await conn.fetch(_MOVED_EVENTS, types, values)
    await ws.load_persons([person])
    first_seq = moved[0]["events_seq"] if moved else ws.persons[person].created_seq
    ws.create_person(new_person_id, seq=first_seq, at=cause.at)
    for who, other, kept in ((person, new_person_id, True), (new_person_id, person, False)):
        ws.add_history(HistoryRow(who, SPLIT, other, kept, cause.note, MANUAL, cause.event_id, cause.at))
    by_partition: dict[int, list[str]] = {facts.partition_of(person): []}
    for row in moved:
        by_partition.setdefault(facts.partition_of(row["person_id"]), []).append(row["event_id"])
    for partition, event_ids in sorted(by_partition.items()):
        ws.emit(
            facts.split(
                person, new_person_id, moved=refs, moved_event_ids=event_ids, reason=cause.note, at=cause.at,
                partition=partition, headers=cause.headers,
            )
        )  # fmt: skip
    return SplitDone(new_person_id, [r["event_id"] for r in moved])
