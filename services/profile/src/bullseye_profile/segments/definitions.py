"""Segment definitions are facts: `segment.defined`, `segment.updated`, `segment.deleted` on PROFILE.

A definition others depend on is recorded in the log (docs/design.md D3): the RPC that
creates, updates or deletes a segment writes the definition and its fact, with the whole rule
and version, through the outbox in the same transaction. Campaign learns segments from these
facts, and a profile whose database was lost restores its definitions from them
(projections/segment_facts.py). Subjects are `<prefix>.<partition of the segment id>.segment.
<change>`, so one segment's facts are in order; the message id is derived from the cause
(`segdef:<segment>:<version>:<change>`), so a relay that publishes one twice stores it once.
"""

from __future__ import annotations

from datetime import datetime

from bullseye.profile.v1 import segments_pb2 as pb
from bullseye_platform.eventlog import partition_of, subject_for
from bullseye_platform.outbox import emit
from bullseye_platform.store.pool import Connection
from bullseye_platform.timestamps import to_timestamp

VERBS = {
    pb.SEGMENT_DEFINITION_CHANGE_DEFINED: "defined",
    pb.SEGMENT_DEFINITION_CHANGE_UPDATED: "updated",
    pb.SEGMENT_DEFINITION_CHANGE_DELETED: "deleted",
}


class DefinitionFacts:
    """Writes a definition's fact in the caller's transaction (the one that changed it)."""

    def __init__(self, *, subject_prefix: str, partitions: int) -> None:
        self._prefix, self._partitions = subject_prefix, partitions

    async def emit(
        self, conn: Connection, change: pb.SegmentDefinitionChange.ValueType, segment: pb.Segment, at: datetime
    ) -> None:
        """`segment` as it is after `change` (for a deletion: as it was), which happened `at`."""
        verb = VERBS[change]
        fact = pb.SegmentDefinitionChanged(
            change=change, segment_id=segment.segment_id, name=segment.name, description=segment.description,
            rule=segment.rule, version=segment.version, created_at=segment.created_at, occurred_at=to_timestamp(at),
        )  # fmt: skip
        partition = partition_of(segment.segment_id, self._partitions)
        await emit(
            conn,
            subject=subject_for(self._prefix, partition, f"segment.{verb}"),
            payload=fact.SerializeToString(),
            msg_id=f"segdef:{segment.segment_id}:{segment.version}:{verb}",
        )
