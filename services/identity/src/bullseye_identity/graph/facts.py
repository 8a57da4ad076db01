"""The RESOLVED stream's records, with their subjects and message ids.

Subjects are `<prefix>.<partition of the person>.<kind>`: one person's records are in one
partition, in order. Message ids derive from what caused the record, so a replay after a
crash queues the same ids and JetStream stores each record once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as idpb
from bullseye.identity.v1 import resolved_pb2 as rpb
from bullseye_platform.eventlog import LogMessage, partition_of, subject_for
from bullseye_platform.sealing import PERSONAL_KINDS
from bullseye_platform.telemetry import carried_headers

MERGED_KIND, SPLIT_KIND = "identity.merged", "identity.split"


@dataclass(frozen=True)
class Facts:
    """Where facts go: the RESOLVED subject prefix and its number of partitions."""

    prefix: str
    partitions: int

    def partition_of(self, person_id: str) -> int:
        return partition_of(person_id, self.partitions)

    def _subject(self, person_id: str, kind: str) -> str:
        return subject_for(self.prefix, self.partition_of(person_id), kind)

    def resolved(self, person_id: str, event: ev.Event, *, seq: int, headers: Mapping[str, str]) -> LogMessage:
        """The event, attributed to its person; `event` must already be without personal data."""
        record = rpb.ResolvedRecord(event=rpb.ResolvedEvent(person_id=person_id, event=event, events_sequence=seq))
        return LogMessage(
            subject=self._subject(person_id, event.WhichOneof("payload") or "unknown"),
            payload=record.SerializeToString(),
            msg_id=f"resolved:{event.event_id}",
            headers=carried_headers(headers),  # the trace goes on from the EVENTS record
        )

    def merged(
        self, survivor: str, merged: str, *, reason: str, rule: str, cause_event_id: str, at: datetime,
        headers: Mapping[str, str] | None = None,
    ) -> LogMessage:  # fmt: skip
        """In the merged person's partition, after all of its earlier records."""
        fact = rpb.PersonsMerged(
            survivor_person_id=survivor, merged_person_id=merged, reason=reason, rule=rule,
            cause_event_id=cause_event_id,
        )  # fmt: skip
        fact.occurred_at.FromDatetime(at)
        return LogMessage(
            subject=self._subject(merged, MERGED_KIND),
            payload=rpb.ResolvedRecord(merged=fact).SerializeToString(),
            msg_id=f"merged:{survivor}:{merged}",
            headers=carried_headers(headers or {}),
        )

    def split(
        self, person_id: str, new_person_id: str, *, moved: Sequence[idpb.IdentifierRef],
        moved_event_ids: Sequence[str], reason: str, at: datetime, partition: int,
        headers: Mapping[str, str] | None = None,
    ) -> LogMessage:  # fmt: skip
        """The copy for `partition`, listing the moved events whose records are there (graph/split.py)."""
        fact = rpb.PersonSplit(
            person_id=person_id, new_person_id=new_person_id, moved_identifiers=moved,
            moved_event_ids=moved_event_ids, reason=reason,
        )  # fmt: skip
        fact.occurred_at.FromDatetime(at)
        return LogMessage(
            subject=subject_for(self.prefix, partition, SPLIT_KIND),
            payload=rpb.ResolvedRecord(split=fact).SerializeToString(),
            msg_id=f"split:{new_person_id}:{partition}",
            headers=carried_headers(headers or {}),
        )


def without_personal(event: ev.Event) -> None:
    """Remove personal data, in place: it stays sealed in EVENTS and in the vault."""
    kind = event.WhichOneof("payload")
    if kind in PERSONAL_KINDS:
        payload = getattr(event, kind)
        payload.ClearField("personal")
        payload.ClearField("sealed_personal")
    for contact in ("email", "phone", "sealed"):
        event.identifiers.ClearField(contact)
