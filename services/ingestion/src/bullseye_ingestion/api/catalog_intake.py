"""Accepting a batch of catalog changes: check, stamp, append durably to CATALOG, report each fate.

Catalog items are not shoppers (docs/design.md D2): they need no identifier, are never
sealed, and go to their own stream, never to EVENTS, so identity never sees them. One
item's changes share a partition (`catalog.<partition of item_id>.<kind>`) and keep the
order they were accepted in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bullseye.catalog.v1 import catalog_pb2 as cat
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye_platform.eventlog import Appended, LogMessage
from bullseye_platform.telemetry import inject_headers
from google.protobuf.timestamp_pb2 import Timestamp

from bullseye_ingestion.adapters.log_target import LogTarget
from bullseye_ingestion.api.intake import now_utc
from bullseye_ingestion.domain import catalog
from bullseye_ingestion.domain.policy import EventPolicy
from bullseye_ingestion.domain.validation import Violation, v

REJECTED, DUPLICATE, ACCEPTED = pb.EVENT_STATUS_REJECTED, pb.EVENT_STATUS_DUPLICATE, pb.EVENT_STATUS_ACCEPTED
SUBJECT_KINDS = {"upsert": "upserted", "delete": "deleted"}


@dataclass(frozen=True)
class _Checked:
    index: int
    item_id: str
    message: LogMessage | None
    violations: list[Violation]


class CatalogIntake:
    """The application service of PublishCatalog."""

    def __init__(self, *, target: LogTarget, policy: EventPolicy, clock: Callable[[], datetime] = now_utc) -> None:
        self._target, self._policy, self._clock = target, policy, clock

    async def publish(self, changes: Sequence[cat.CatalogChange], *, source: str) -> pb.PublishCatalogResponse:
        """Append every valid change once; returns one outcome per change, in order.

        Raises:
            Unavailable: the log did not acknowledge (LogTarget.append); the caller retries the same changes.
        """
        now = self._clock()
        received_at = Timestamp()
        received_at.FromDatetime(now)
        headers = inject_headers({})
        checked = [self._check(i, c, now.timestamp(), received_at, source, headers) for i, c in enumerate(changes)]
        first_of: dict[str, int] = {}
        for item in checked:
            if item.message is not None:
                first_of.setdefault(item.message.msg_id, item.index)
        sending = [checked[index].message for index in first_of.values()]
        appended = await self._target.append(
            [m for m in sending if m is not None], what="catalog changes", retry="retry them: none is stored twice"
        )
        return _response(checked, first_of, dict(zip(first_of.values(), appended, strict=True)))

    def _check(
        self, index: int, change: cat.CatalogChange, now: float, received_at: Timestamp, source: str,
        headers: dict[str, str],
    ) -> _Checked:  # fmt: skip
        item_id = catalog.item_id(change)
        limit = self._policy.max_event_bytes
        if (size := change.ByteSize()) > limit:
            return _Checked(index, item_id, None, [v("", f"the change is {size} bytes; the limit is {limit} bytes")])
        found = catalog.validate_change(change, now=now, future_tolerance=self._policy.future_tolerance)
        if found:
            return _Checked(index, item_id, None, found)
        record = cat.CatalogRecord(change=change, received_at=received_at, source=source)
        kind = SUBJECT_KINDS[change.WhichOneof("change") or ""]
        subject = self._target.subject(item_id, kind)
        message = LogMessage(subject, record.SerializeToString(), catalog.message_id(change), headers)
        return _Checked(index, item_id, message, [])


def _response(
    checked: list[_Checked], first_of: dict[str, int], by_index: dict[int, Appended]
) -> pb.PublishCatalogResponse:
    reply = pb.PublishCatalogResponse()
    for item in checked:
        if item.message is None:
            reply.outcomes.add(index=item.index, item_id=item.item_id, status=REJECTED, violations=item.violations)
            reply.rejected += 1
            continue
        first = first_of[item.message.msg_id]
        appended = by_index[first]
        duplicate = first != item.index or appended.duplicate
        status = DUPLICATE if duplicate else ACCEPTED
        reply.outcomes.add(index=item.index, item_id=item.item_id, status=status, stream_sequence=appended.seq)
        reply.duplicates += duplicate
        reply.accepted += not duplicate
    return reply
