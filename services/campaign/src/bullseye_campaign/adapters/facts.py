"""Campaign's facts on CAMPAIGN, written through the outbox in the transaction of what they report.

Subjects are `<prefix>.<partition>.<kind>`: message facts are partitioned by person (one
person's facts in order), campaign facts by campaign. Each message id is derived from the
fact's cause, so re-running the cause (a job run again after a crash) cannot publish it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bullseye.campaign.v1 import facts_pb2 as fpb
from bullseye_platform.eventlog import LogMessage, partition_of, subject_for
from bullseye_platform.outbox import emit_many
from bullseye_platform.store.pool import Connection
from bullseye_platform.telemetry import inject_headers
from google.protobuf.timestamp_pb2 import Timestamp

KINDS = {
    "message_sent": "message.sent", "message_suppressed": "message.suppressed", "message_failed": "message.failed",
    "state_changed": "campaign.state_changed", "alert": "campaign.alert",
}  # fmt: skip


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


class Facts:
    """Builds and queues CampaignRecords; one per process, shared."""

    def __init__(self, *, subject_prefix: str, partitions: int) -> None:
        self._prefix, self._partitions = subject_prefix, partitions

    def message(self, record: fpb.CampaignRecord, *, person_id: str, msg_id: str) -> LogMessage:
        return self._log_message(record, key=person_id, msg_id=msg_id)

    def campaign(self, record: fpb.CampaignRecord, *, campaign_id: str, msg_id: str) -> LogMessage:
        return self._log_message(record, key=campaign_id, msg_id=msg_id)

    def _log_message(self, record: fpb.CampaignRecord, *, key: str, msg_id: str) -> LogMessage:
        kind = KINDS[record.WhichOneof("fact") or ""]
        subject = subject_for(self._prefix, partition_of(key, self._partitions), kind)
        return LogMessage(
            subject=subject, payload=record.SerializeToString(), msg_id=msg_id, headers=inject_headers({})
        )

    async def emit(self, conn: Connection, messages: Sequence[LogMessage]) -> None:
        await emit_many(conn, messages)
