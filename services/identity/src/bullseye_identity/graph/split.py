"""Split: an operator moves some identifiers of a person, and the events that came through
them, to a new person."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bullseye.identity.v1 import identity_pb2 as pb

from bullseye_identity.domain.policy import Key
from bullseye_identity.graph.changes import SPLIT, Cause
from bullseye_identity.graph.facts import Facts
from bullseye_identity.graph.workset import HistoryRow, Workset

_KEYS = "unnest($2::text[], $3::text[]) AS k(t, v)"
_MOVE_IDENTIFIERS = f"""
UPDATE identifiers i SET person_id = $1 FROM {_KEYS} WHERE i.id_type = k.t AND i.id_value = k.v
"""
# The events resolved through a moved identifier follow it (resolutions.primary_*).
_MOVE_EVENTS = f"""
UPDATE resolutions r SET person_id = $1 FROM {_KEYS}
WHERE r.primary_type = k.t AND r.primary_value = k.v
RETURNING r.event_id, r.events_seq
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
    moved = sorted(await conn.fetch(_MOVE_EVENTS, new_person_id, types, values), key=lambda r: r["events_seq"])
    await ws.load_persons([person])
    first_seq = moved[0]["events_seq"] if moved else ws.persons[person].created_seq
    ws.create_person(new_person_id, seq=first_seq, at=cause.at)
    for who, other, kept in ((person, new_person_id, True), (new_person_id, person, False)):
        ws.add_history(HistoryRow(who, SPLIT, other, kept, cause.note, "manual", "", cause.at))
    event_ids = [r["event_id"] for r in moved]
    ws.emit(facts.split(person, new_person_id, moved=refs, moved_event_ids=event_ids, reason=cause.note, at=cause.at))
    return SplitDone(new_person_id, event_ids)
