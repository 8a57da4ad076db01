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

from bullseye_identity.domain.kinds import Key
from bullseye_identity.graph.refs import STRENGTHS, ref_of

MERGED_KIND, SPLIT_KIND = "identity.merged", "identity.split"


@dataclass(frozen=True)
class Parting:
    """Identifiers (`refs`, as they leave identity) and events moving from `person_id` to
    `new_person_id`, and why: an operator's split (`rule` "manual", the operator's words as
    `reason`) or an automatic one (the value `cause_key` found shared by `cause_event_id`)."""

    person_id: str
    new_person_id: str
    refs: Sequence[idpb.IdentifierRef]
    reason: str
    rule: str
    cause_event_id: str
    at: datetime
    headers: Mapping[str, str]
    cause_key: Key = ("", "")


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
        headers: Mapping[str, str] | None = None, key: Key = ("", ""), strength: str = "",
    ) -> LogMessage:  # fmt: skip
        """In the merged person's partition, after all of its earlier records."""
        fact = rpb.PersonsMerged(
            survivor_person_id=survivor, merged_person_id=merged, reason=reason, rule=rule,
            cause_event_id=cause_event_id, strength=STRENGTHS.get(strength, idpb.LINK_STRENGTH_UNSPECIFIED),
        )  # fmt: skip
        if key[0]:
            fact.identifier.CopyFrom(ref_of(key))
        fact.occurred_at.FromDatetime(at)
        return LogMessage(
            subject=self._subject(merged, MERGED_KIND),
            payload=rpb.ResolvedRecord(merged=fact).SerializeToString(),
            msg_id=f"merged:{survivor}:{merged}",
            headers=carried_headers(headers or {}),
        )

    def split(self, parting: Parting, *, moved_event_ids: Sequence[str], partition: int) -> LogMessage:
        """The copy for `partition`, listing the moved events whose records are there (graph/split.py)."""
        fact = rpb.PersonSplit(
            person_id=parting.person_id, new_person_id=parting.new_person_id, moved_identifiers=parting.refs,
            moved_event_ids=moved_event_ids, reason=parting.reason, rule=parting.rule,
            cause_event_id=parting.cause_event_id,
        )  # fmt: skip
        if parting.cause_key[0]:
            fact.cause_identifier.CopyFrom(ref_of(parting.cause_key))
        fact.occurred_at.FromDatetime(parting.at)
        # An automatic split may move events to an existing person, more than once: its
        # cause tells the facts apart (a manual split's new person is its command's own).
        tail = f":{parting.cause_event_id}" if parting.cause_key[0] else ""
        return LogMessage(
            subject=subject_for(self.prefix, partition, SPLIT_KIND),
            payload=rpb.ResolvedRecord(split=fact).SerializeToString(),
            msg_id=f"split:{parting.new_person_id}:{partition}{tail}",
            headers=carried_headers(parting.headers),
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
