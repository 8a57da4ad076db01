"""Split: identifiers of a person, and the events that came through them, move to another
person: an operator's split, or a healing split once a value turns out to be shared
(graph/healing.py). One machinery for both.

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
from bullseye_identity.graph.facts import Facts, Parting
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
class Moved:
    """An event that moves, and the person its RESOLVED record names (its partition)."""

    event_id: str
    events_seq: int
    record_person: str


@dataclass(frozen=True)
class SplitDone:
    new_person_id: str
    moved_event_ids: list[str]


async def split(
    ws: Workset, facts: Facts, person: str, keys: Sequence[Key], refs: Sequence[pb.IdentifierRef], *,
    new_person_id: str, cause: Cause,
) -> SplitDone:  # fmt: skip
    """Move `keys` (all of them `person`'s, not all of its keys: the caller checked) to a new person."""
    types, values = [k[0] for k in keys], [k[1] for k in keys]
    rows = await ws.conn.fetch(_MOVED_EVENTS, types, values)
    moved = [Moved(r["event_id"], r["events_seq"], r["person_id"]) for r in rows]
    await move_identifiers(ws, keys, new_person_id)
    await ws.load_persons([person])
    ws.create_person(new_person_id, seq=moved[0].events_seq if moved else ws.persons[person].created_seq, at=cause.at)
    parting = Parting(
        person, new_person_id, refs, reason=cause.note, rule=MANUAL, cause_event_id=cause.event_id, at=cause.at,
        headers=cause.headers,
    )  # fmt: skip
    record(ws, facts, parting, moved)
    return SplitDone(new_person_id, [m.event_id for m in moved])


async def move_identifiers(ws: Workset, keys: Sequence[Key], person: str) -> None:
    """Point `keys` at `person`, in the database (the caller's workset must not hold them)."""
    await ws.conn.execute(_MOVE_IDENTIFIERS, person, [k[0] for k in keys], [k[1] for k in keys])


def record(ws: Workset, facts: Facts, parting: Parting, moved: Sequence[Moved]) -> None:
    """The split in both persons' histories, and its PersonSplit facts: one per partition
    holding a moved event's record, and one in the split person's partition."""
    reason = parting.reason
    for who, other, kept in ((parting.person_id, parting.new_person_id, True),
                             (parting.new_person_id, parting.person_id, False)):  # fmt: skip
        row = HistoryRow(who, SPLIT, other, kept, reason, parting.rule, parting.cause_event_id, parting.at,
                         identifier=parting.cause_key)  # fmt: skip
        ws.add_history(row)
    by_partition: dict[int, list[str]] = {facts.partition_of(parting.person_id): []}
    for event in moved:
        by_partition.setdefault(facts.partition_of(event.record_person), []).append(event.event_id)
    for partition, event_ids in sorted(by_partition.items()):
        ws.emit(facts.split(parting, moved_event_ids=event_ids, partition=partition))
