"""Healing: identifiers cut from a person (domain/sharing.py) take with them what joined the
person only through them (domain/parting.py), by the split machinery (graph/split.py).

Called by the resolver, in its transaction and under the graph lock, at the event that shows
a value shared (before that event is decided again), or right after an event whose claims
made a value shared. What it does depends only on the graph built from the records before
(the person's identifiers, the evidence resolutions keep) and on the event, and its ids on
the event: a replay heals at the same place, the same way, and publishes the same facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from bullseye.identity.v1 import identity_pb2 as pb
from opentelemetry import metrics

from bullseye_identity.domain.ids import healed_person_id
from bullseye_identity.domain.kinds import Key, decode_keys, encode_key
from bullseye_identity.domain.parting import Evidence, Part, destinations, parts
from bullseye_identity.domain.sharing import Cut
from bullseye_identity.graph.changes import Cause, GraphChanges
from bullseye_identity.graph.facts import Facts, Parting
from bullseye_identity.graph.refs import ref_of
from bullseye_identity.graph.split import Moved, move_identifiers, record
from bullseye_identity.graph.workset import Workset

SHARED_VALUE, CONTRADICTED = "shared-value", "contradicted"
_IDENTIFIERS = "SELECT id_type, id_value FROM identifiers WHERE person_id = $1 ORDER BY id_type, id_value"
# The person's events: those resolved through one of its identifiers (what a split moves).
_EVIDENCE = """
SELECT r.event_id, r.events_seq, r.person_id, r.keys
FROM resolutions r JOIN identifiers i ON i.id_type = r.primary_type AND i.id_value = r.primary_value
WHERE i.person_id = $1 ORDER BY r.events_seq
"""
_MERGE_LINKS = """
SELECT m.command_id, m.id_type, m.id_value
FROM merge_links m JOIN identifiers i ON i.id_type = m.id_type AND i.id_value = m.id_value
WHERE i.person_id = $1 ORDER BY 1, 2, 3
"""
# A moved event now follows another of its identifiers: a later split finds it through it.
_FOLLOWS = """
UPDATE resolutions r SET primary_type = m.t, primary_value = m.v
FROM unnest($1::text[], $2::text[], $3::text[]) AS m(e, t, v) WHERE r.event_id = m.e
"""


@dataclass(frozen=True)
class Occasion:
    """Where a healing happens: its cause (the event), the event's EVENTS sequence, and the
    round of healing within that event (each round's new persons have ids of their own)."""

    cause: Cause
    seq: int
    round: int


class Healing:
    def __init__(self, *, changes: GraphChanges, facts: Facts) -> None:
        self._changes, self._facts = changes, facts
        self._splits = metrics.get_meter("bullseye.identity").create_counter(
            "identity_automatic_splits",
            description="persons split because a value turned out shared (shared-value) or a login contradicted a "
            "logged-out link (contradicted), by reason",
        )

    async def heal(self, ws: Workset, cut: Cut, occasion: Occasion) -> None:
        """Mark `cut`'s shared values and part its person; `ws` is fresh (the caller flushed
        its own) and is flushed here."""
        conn, person = ws.conn, cut.person_id
        identifiers = [(r["id_type"], r["id_value"]) for r in await conn.fetch(_IDENTIFIERS, person)]
        rows = await conn.fetch(_EVIDENCE, person)
        evidence = [Evidence(r["event_id"], r["events_seq"], decode_keys(r["keys"])) for r in rows]
        await ws.load_keys([*cut.keys, *identifiers, *(k for item in evidence for k in item.keys)])
        for key in sorted(cut.shared):
            self._changes.mark_shared(ws, key, reason=cut.rule, cause=occasion.cause)
        await self._part(ws, cut, occasion, identifiers, rows, evidence)
        await ws.flush()

    async def _part(self, ws: Workset, cut: Cut, occasion: Occasion, identifiers: list[Key],
                    rows: Sequence[asyncpg.Record], evidence: list[Evidence]) -> None:  # fmt: skip
        """The parts that no longer hold to the person leave it, and its events follow the
        identifier that decides them now (domain/parting.py)."""
        cutting = {k for k in identifiers if k in ws.shared} | cut.contradicted
        links = await _links(ws, cut.person_id)
        leaving = parts(identifiers, [*evidence, *links], cut=cutting, contradicted=cut.contradicted)
        new_ids = {part.keys[0]: self._new_person_id(part, occasion) for part in leaving}
        owner = {k: p for item in evidence for k in item.keys if (p := ws.owner(k)) is not None}
        owner.update({k: new_ids[part.keys[0]] for part in leaving for k in part.keys})
        moves = destinations(evidence, owner, shared=ws.shared, person_id=cut.person_id)
        going: dict[str, list[Moved]] = {}
        for r in rows:
            if (key := moves.get(r["event_id"])) is not None:
                going.setdefault(owner[key], []).append(Moved(r["event_id"], r["events_seq"], r["person_id"]))
        for part in leaving:
            new_id = new_ids[part.keys[0]]
            await self._leave(ws, cut, part, new_id, going.pop(new_id, []), occasion)
        for other, moved in sorted(going.items()):  # to existing persons
            self._move(ws, cut, other, (), moved, occasion, cause_key=moved_cause(evidence, moved, cutting))
        if moves:
            events = sorted(moves)
            await ws.conn.execute(_FOLLOWS, events, [moves[e][0] for e in events], [moves[e][1] for e in events])

    async def _leave(self, ws: Workset, cut: Cut, part: Part, new_person: str, moved: Sequence[Moved],
                     occasion: Occasion) -> None:  # fmt: skip
        """`part` leaves `cut`'s person for a person of its own, with the events that follow it."""
        await move_identifiers(ws, part.keys, new_person)
        first = min((m.events_seq for m in moved), default=occasion.seq)
        ws.create_person(new_person, seq=first, at=occasion.cause.at)
        self._move(ws, cut, new_person, [ref_of(k) for k in part.keys], moved, occasion, cause_key=part.cause)

    def _move(self, ws: Workset, cut: Cut, to: str, refs: Sequence[pb.IdentifierRef], moved: Sequence[Moved],
              occasion: Occasion, *, cause_key: Key) -> None:  # fmt: skip
        """Events (and `refs`) move from `cut`'s person to `to`: in both histories and on RESOLVED."""
        reason, cause = CONTRADICTED if cause_key in cut.contradicted else SHARED_VALUE, occasion.cause
        parting = Parting(
            cut.person_id, to, refs, reason=reason, rule=cut.rule, cause_event_id=cause.event_id, at=cause.at,
            headers=cause.headers, cause_key=cause_key,
        )  # fmt: skip
        record(ws, self._facts, parting, moved)
        self._splits.add(1, {"reason": reason})

    @staticmethod
    def _new_person_id(part: Part, occasion: Occasion) -> str:
        return healed_person_id(occasion.cause.event_id, occasion.round, encode_key(part.keys[0]))


async def _links(ws: Workset, person: str) -> list[Evidence]:
    """Operators' merges as evidence: each joins the identifiers both persons had."""
    found: dict[str, list[Key]] = {}
    for r in await ws.conn.fetch(_MERGE_LINKS, person):
        found.setdefault(r["command_id"], []).append((r["id_type"], r["id_value"]))
    return [Evidence(command_id, 0, tuple(keys)) for command_id, keys in found.items()]


def moved_cause(evidence: Sequence[Evidence], moved: Sequence[Moved], cutting: set[Key]) -> Key:
    """The cut identifier the first moved event carried (what no longer decides it)."""
    ids = {m.event_id for m in moved}
    for item in evidence:
        if item.event_id in ids:
            found = next((k for k in item.keys if k in cutting), None)
            if found is not None:
                return found
    return min(cutting)
