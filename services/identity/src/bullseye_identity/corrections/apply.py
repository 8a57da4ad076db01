"""The resolver's side of a correction: apply it where it stands in EVENTS, record the outcome.

Called by the resolution projection, in its transaction and under the graph lock, when it
reaches a correction record; what the correction decides depends only on the graph built
from the records before it, and its ids and times only on the record, so a replay applies
it at the same place with the same result. The outcome row commits with the change: an
RPC that sees it sees the graph changed.
"""

from __future__ import annotations

from datetime import UTC

from bullseye.identity.v1 import correction_pb2 as cpb
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye_platform.eventlog import LogRecord
from bullseye_platform.grpc import InvalidArgument, ServiceError, violation
from bullseye_platform.store.pool import Connection
from google.protobuf.message import Message
from google.rpc import status_pb2
from opentelemetry import metrics

from bullseye_identity.corrections import rules
from bullseye_identity.corrections.commands import ok
from bullseye_identity.domain.ids import split_person_id
from bullseye_identity.domain.policy import Policy
from bullseye_identity.graph import queries
from bullseye_identity.graph.changes import MANUAL, Cause, GraphChanges
from bullseye_identity.graph.facts import Facts
from bullseye_identity.graph.refs import key_of
from bullseye_identity.graph.split import split
from bullseye_identity.graph.workset import Workset

_SEEN = "SELECT 1 FROM corrections WHERE command_id = $1"
# What an operator joined stays joined when a value of the person is later found shared
# (graph/healing.py reads these links beside the events' evidence).
_LINK = """
INSERT INTO merge_links (id_type, id_value, command_id)
SELECT id_type, id_value, $3 FROM identifiers WHERE person_id = ANY(ARRAY[$1, $2]::text[])
"""
_RECORD = """
INSERT INTO corrections (command_id, kind, events_seq, occurred_at, outcome) VALUES ($1, $2, $3, $4, $5)
"""


class Corrections:
    """Applies correction records (see `apply`)."""

    def __init__(self, *, changes: GraphChanges, facts: Facts, policy: Policy) -> None:
        self._changes, self._facts, self._policy = changes, facts, policy
        self._repeats = metrics.get_meter("bullseye.identity").create_counter(
            "identity_repeated_corrections", description="correction records whose command was applied before"
        )

    async def apply(self, conn: Connection, record: LogRecord) -> None:
        """Apply one correction record exactly once and record its outcome (the caller holds the lock)."""
        correction = cpb.IdentityCorrection.FromString(record.data)
        if await conn.fetchval(_SEEN, correction.command_id):  # stored again after the duplicate window
            self._repeats.add(1)
            return
        at = correction.occurred_at.ToDatetime(tzinfo=UTC)
        cause = Cause(MANUAL, correction.command_id, at, record.headers, note=correction.reason)
        kind = correction.WhichOneof("command") or "unknown"
        try:
            # A savepoint: a refusal leaves nothing of the correction behind.
            async with conn.transaction():
                outcome = ok(await self._decide(conn, correction, cause))
        except ServiceError as refused:
            outcome = refused.to_proto()
        await conn.execute(_RECORD, correction.command_id, kind, record.seq, at, _bytes(outcome))

    async def _decide(self, conn: Connection, correction: cpb.IdentityCorrection, cause: Cause) -> Message:
        if correction.HasField("merge"):
            return await self._merge(conn, correction.merge, cause)
        if correction.HasField("split"):
            return await self._split(conn, correction.split, cause)
        raise InvalidArgument("the correction names no command this identity knows", [violation("command", "")])

    async def _merge(self, conn: Connection, merge: cpb.MergePersons, cause: Cause) -> pb.MergeResponse:
        one = await queries.live_person(conn, merge.person_id, "person_id")
        other = await queries.live_person(conn, merge.other_person_id, "other_person_id")
        if one == other:
            raise InvalidArgument(
                f"invalid merge: other_person_id {rules.SAME_PERSON}", [violation("other_person_id", rules.SAME_PERSON)]
            )
        ws = Workset(conn)
        await ws.load_persons([one, other])
        survivor, merged = sorted((one, other), key=lambda p: (ws.persons[p].created_seq, p))
        rules.check_limits(self._policy, ws.view(survivor), ws.view(merged))
        await conn.execute(_LINK, survivor, merged, cause.event_id)
        self._changes.merge(ws, survivor, merged, rule=MANUAL, cause=cause)
        await ws.flush()
        return pb.MergeResponse(survivor_person_id=survivor, merged_person_id=merged)

    async def _split(self, conn: Connection, command: cpb.SplitPerson, cause: Cause) -> pb.SplitResponse:
        person = await queries.live_person(conn, command.person_id, "person_id")
        keys = [key_of(ref) for ref in command.identifiers]
        owned = {(r["id_type"], r["id_value"]) for r in await queries.identities(conn, person)}
        rules.check_movable(owned, keys, person)
        ws = Workset(conn)
        new_person = split_person_id(cause.event_id)
        done = await split(ws, self._facts, person, keys, command.identifiers, new_person_id=new_person, cause=cause)
        await ws.flush()
        return pb.SplitResponse(new_person_id=done.new_person_id, moved_event_ids=done.moved_event_ids)


def _bytes(outcome: status_pb2.Status) -> bytes:
    serialized: bytes = outcome.SerializeToString(deterministic=True)
    return serialized
