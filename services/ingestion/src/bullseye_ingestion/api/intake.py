"""Accepting a batch of events: check, prepare, dedupe, append durably, report each fate.

Shared by Track, TrackBatch and Ingest so the three answer by the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bullseye.events.v1 import event_pb2 as ev
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye_platform.eventlog import Appended, AppendError, LogMessage, LogWriter, partition_of, subject_for
from bullseye_platform.grpc import Unavailable
from bullseye_platform.grpc.errors import capped
from bullseye_platform.telemetry import inject_headers
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import metrics

from bullseye_ingestion.adapters.sealer import Sealer
from bullseye_ingestion.domain import lenient, prepare, validation
from bullseye_ingestion.domain.keys import Trust
from bullseye_ingestion.domain.policy import EventPolicy

REJECTED, DUPLICATE, ACCEPTED = pb.EVENT_STATUS_REJECTED, pb.EVENT_STATUS_DUPLICATE, pb.EVENT_STATUS_ACCEPTED
TRUST_STAMPS = {Trust.UNVERIFIED: ev.SOURCE_TRUST_UNVERIFIED, Trust.VERIFIED: ev.SOURCE_TRUST_VERIFIED}


def now_utc() -> datetime:
    return datetime.now(UTC)


def partition_key(event: ev.Event) -> str:
    """The device's anonymous id first: it keeps one browser's journey, login included, in order.
    An event identified only by an email or phone (sealed by now) goes by its data key's id,
    which is the contact point's and tells nothing of it."""
    ids = event.identifiers
    return ids.anonymous_id or ids.user_id or ids.loyalty_id or ids.sealed.key_id


@dataclass(frozen=True)
class Arrival:
    """What every event of one request shares, computed once per request, not per event."""

    now: datetime
    received_at: Timestamp
    source: str
    trust: ev.SourceTrust.ValueType
    backfill: bool
    trace_headers: dict[str, str]

    @classmethod
    def at(cls, now: datetime, *, source: str, trust: Trust, backfill: bool) -> Arrival:
        received_at = Timestamp()
        received_at.FromDatetime(now)
        return cls(now, received_at, source, TRUST_STAMPS[trust], backfill, inject_headers({}))


@dataclass
class _Checked:
    index: int
    event_id: str
    stored: ev.Event | None
    violations: list[validation.Violation]
    # Fields dropped from a stored event (domain/lenient.py), reported in its outcome.
    warnings: list[validation.Violation] = field(default_factory=list)


class Intake:
    """The application service of ingestion."""

    def __init__(
        self,
        *,
        writer: LogWriter,
        sealer: Sealer,
        policy: EventPolicy,
        subject_prefix: str,
        partitions: int,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self._writer, self._sealer, self._policy = writer, sealer, policy
        self._prefix, self._partitions = subject_prefix, partitions
        self._clock = clock
        meter = metrics.get_meter("bullseye.ingestion")
        self._counted = meter.create_counter(
            "ingestion_events", description="events by outcome (accepted, duplicate, rejected) and source"
        )
        self._dropped = meter.create_counter(
            "ingestion_fields_dropped", description="unreadable emails and phones dropped from stored events, by field"
        )

    def check(self, index: int, event: ev.Event, arrival: Arrival) -> _Checked:
        """Validate one event; a valid one comes back prepared for storage."""
        # Its bytes, for its size and for the input rules' screen (a NUL in any of its strings
        # is a 0x00 byte here): one serialization, about what ByteSize() costs on its own.
        serialized = event.SerializeToString()
        size = len(serialized)
        if size > self._policy.max_event_bytes:
            limit = self._policy.max_event_bytes
            too_big = validation.v("", f"event is {size} bytes; the limit is {limit} bytes ({limit // 1024} KiB)")
            return _Checked(index, event.event_id, None, [too_big])
        stored = prepare.stamp(event, received_at=arrival.received_at, source=arrival.source, trust=arrival.trust)
        found = validation.validate(
            stored,
            serialized=serialized,
            now=arrival.now,
            future_tolerance=self._policy.future_tolerance,
            live_window=self._policy.live_window,
            backfill=arrival.backfill,
        )
        dropped: list[validation.Violation] = []
        if found:  # most events have no violation: nothing to sort out
            rejecting, dropped = lenient.split(found)
            if rejecting:
                return _Checked(index, event.event_id, None, capped(found))
            lenient.drop(stored, dropped)
            for warning in dropped:
                self._dropped.add(1, {"field": warning.field})
        prepare.normalize(stored, live_window=self._policy.live_window)
        return _Checked(index, event.event_id, stored, [], dropped)

    def _message(self, stored: ev.Event, arrival: Arrival) -> LogMessage:
        kind = stored.WhichOneof("payload") or "unknown"
        partition = partition_of(partition_key(stored), self._partitions)
        return LogMessage(
            subject=subject_for(self._prefix, partition, kind),
            payload=stored.SerializeToString(),
            msg_id=stored.event_id,
            headers=arrival.trace_headers,  # the subject already names the event type
        )

    async def accept(self, events: Sequence[ev.Event], *, source: str, backfill: bool, trust: Trust) -> pb.BatchResult:
        """Append every valid event once; returns one outcome per event, in order.

        Raises:
            Unavailable: personal data could not be sealed (nothing appended), or the log did
                not acknowledge; the caller retries with the same ids.
        """
        arrival = Arrival.at(self._clock(), source=source, trust=trust, backfill=backfill)
        checked = [self.check(i, e, arrival) for i, e in enumerate(events)]
        first_of: dict[str, int] = {}
        to_send: list[_Checked] = []
        for item in checked:
            if item.stored is not None and item.event_id not in first_of:
                first_of[item.event_id] = item.index
                to_send.append(item)
        await self._sealer.seal([c.stored for c in to_send if c.stored])  # before the partition key is taken
        try:
            appended = await self._writer.append([self._message(c.stored, arrival) for c in to_send if c.stored])
        except AppendError as exc:
            raise Unavailable(
                f"the event log did not acknowledge the events ({exc}); retry with the same event ids: "
                "none will be stored twice",
                reason="LOG_UNAVAILABLE",
            ) from exc
        by_index = {c.index: a for c, a in zip(to_send, appended, strict=True)}
        result = self._result(checked, first_of, by_index)
        self._count(result, source)
        return result

    def _count(self, result: pb.BatchResult, source: str) -> None:
        for status, count in (
            ("accepted", result.accepted),
            ("duplicate", result.duplicates),
            ("rejected", result.rejected),
        ):
            if count:
                self._counted.add(count, {"status": status, "source": source})

    @staticmethod
    def _result(checked: list[_Checked], first_of: dict[str, int], by_index: dict[int, Appended]) -> pb.BatchResult:
        result = pb.BatchResult()
        add = result.outcomes.add  # one call per outcome, every field at once: ~1 us less each
        for item in checked:
            if item.violations:
                add(index=item.index, event_id=item.event_id, status=REJECTED, violations=item.violations)
                result.rejected += 1
                continue
            first = first_of[item.event_id]
            appended = by_index[first]
            duplicate = first != item.index or appended.duplicate
            status = DUPLICATE if duplicate else ACCEPTED
            add(index=item.index, event_id=item.event_id, status=status, stream_sequence=appended.seq,
                warnings=item.warnings)  # fmt: skip
            if duplicate:
                result.duplicates += 1
            else:
                result.accepted += 1
        return result
