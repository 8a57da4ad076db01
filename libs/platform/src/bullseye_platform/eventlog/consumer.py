"""Durable pull consumers of a set of partitions, delivering in stream order."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from bullseye_platform.eventlog.subjects import ALL_PARTITIONS, partition_filter


@dataclass(frozen=True)
class LogRecord:
    """One message read from a stream, with the metadata projections need."""

    stream: str
    seq: int
    subject: str
    partition: int
    headers: Mapping[str, str]
    data: bytes
    msg: Msg

    @property
    def msg_id(self) -> str:
        return self.headers.get("Nats-Msg-Id", "")


def durable_name(consumer: str, partitions: Sequence[int]) -> str:
    """`<consumer>-all`, or `<consumer>-p<a>-<b>...` for the partitions it reads."""
    if list(partitions) == [ALL_PARTITIONS]:
        return f"{consumer}-all"
    return f"{consumer}-p" + "-".join(str(p) for p in sorted(partitions))


def partitions_in(durable: str, consumer: str) -> set[int] | None:
    """The partitions a durable of `consumer` named by `durable_name` reads (None: not one of them)."""
    prefix = f"{consumer}-p"
    if not durable.startswith(prefix):
        return None
    numbers = durable[len(prefix) :].split("-")
    return {int(n) for n in numbers} if all(n.isdigit() for n in numbers) else None


class PartitionConsumer:
    """One durable pull consumer of a set of partitions of a stream (or of all of them).

    One consumer for a share of a worker's partitions, not one each: at a modest rate the
    records of one partition trickle in, so per-partition readers commit tiny batches, and
    a batch costs a transaction whatever its size (16 readers of RESOLVED committed about
    one transaction per event). Records arrive in stream order, so each partition's are in
    order too; each record says its partition (`ALL_PARTITIONS` when reading all as one).
    `max_ack_pending` bounds how many are handed out before acks come back. With
    `ack_all`, acking a message acks every one delivered before it (AckPolicy.ALL): a
    reader that commits whole batches acks once per batch instead of once per message.
    """

    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        subject_prefix: str,
        consumer: str,
        partitions: Sequence[int],
        ack_wait: float = 30.0,
        max_ack_pending: int = 2048,
        ack_all: bool = False,
    ) -> None:
        self._js = js
        if not partitions or (ALL_PARTITIONS in partitions and len(partitions) > 1):
            raise ValueError(f"partitions must be [ALL_PARTITIONS] or a non-empty set of partitions, not {partitions}")
        self.stream = stream
        self.partitions = sorted(partitions)
        self.durable = durable_name(consumer, self.partitions)
        self._filters = [partition_filter(subject_prefix, p) for p in self.partitions]
        self._whole = self.partitions == [ALL_PARTITIONS]
        self._skip = len(subject_prefix) + 1  # subjects are <prefix>.<partition>.<kind>
        self._ack_wait = ack_wait
        self._max_ack_pending = max_ack_pending
        self._ack_policy = AckPolicy.ALL if ack_all else AckPolicy.EXPLICIT
        self._sub: JetStreamContext.PullSubscription | None = None

    def _config(self, start: int | None = None) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            filter_subject=self._filters[0] if len(self._filters) == 1 else None,
            filter_subjects=self._filters if len(self._filters) > 1 else None,
            ack_policy=self._ack_policy,
            deliver_policy=DeliverPolicy.ALL if start is None else DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            ack_wait=self._ack_wait,
            max_ack_pending=self._max_ack_pending,
        )

    async def open(self, *, after: int | None = None) -> None:
        """Bind to the durable consumer, creating it if needed.

        Args:
            after: for a reader that keeps its own position (a projection): recreate the
                consumer so that it delivers from stream sequence `after + 1`. Reusing the
                old one is not safe: JetStream holds the messages handed to a reader that
                died for `ack_wait`, and meanwhile delivers newer ones past them.
        """
        if after is not None:
            await self.delete()
        await self._js.add_consumer(self.stream, self._config(None if after is None else after + 1))
        self._sub = await self._js.pull_subscribe_bind(self.durable, stream=self.stream)

    async def fetch(self, batch: int, *, wait: float = 1.0) -> list[LogRecord]:
        """Up to `batch` records; an empty list when none arrive within `wait` seconds."""
        assert self._sub is not None, "open() first"
        try:
            msgs = await self._sub.fetch(batch, timeout=wait)
        except (NatsTimeoutError, TimeoutError):
            return []
        return [self._record(m) for m in msgs]

    def _record(self, msg: Msg) -> LogRecord:
        meta = msg.metadata
        return LogRecord(
            stream=self.stream,
            seq=meta.sequence.stream,
            subject=msg.subject,
            partition=self._partition_of(msg.subject),
            headers=msg.headers or {},
            data=msg.data,
            msg=msg,
        )

    def _partition_of(self, subject: str) -> int:
        return ALL_PARTITIONS if self._whole else int(subject[self._skip : subject.index(".", self._skip)])

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def delete(self) -> None:
        """Forget the consumer's position in NATS (used by rebuilds)."""
        await self.close()
        with contextlib.suppress(NotFoundError):  # absent already is fine
            await self._js.delete_consumer(self.stream, self.durable)
