"""Send events to ingestion's TrackBatch: batches of 100, a few calls in flight, retries.

Used by the demo, the load tests and the benchmarks, so it measures what they report:
outcomes per event, latency per call, retries per status code.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import grpc
from bullseye.events.v1 import event_pb2 as ev
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from bullseye_devtools.traffic.generator import batched
from bullseye_devtools.traffic.retry import delay_before_retry

MAX_SAMPLES = 20
Outcome = pb.EventOutcome | pb.CatalogOutcome


class SendError(Exception):
    """A batch failed for good: a final error, or retries exhausted."""


@dataclass(frozen=True, kw_only=True)
class SendOptions:
    """How to send. `stamp_sent_at` sets sent_at at each attempt, as an SDK does, so
    ingestion's clock-skew correction sees the real sending time. `backfill` lets events
    older than the live window in (the key needs the backfill scope)."""

    batch_size: int = 100
    in_flight: int = 4
    max_attempts: int = 10
    timeout: float = 30.0
    backoff: float = 0.1
    stamp_sent_at: bool = True
    backfill: bool = False


def note_rejections(samples: list[str], outcomes: Iterable[tuple[str, Outcome]]) -> None:
    """Keep the first few rejections of (id, outcome) pairs as "id: field why; ..." lines."""
    for name, outcome in outcomes:
        if outcome.status == pb.EVENT_STATUS_REJECTED and len(samples) < MAX_SAMPLES:
            samples.append(f"{name}: " + "; ".join(f"{v.field} {v.description}" for v in outcome.violations))


@dataclass
class SendStats:
    events: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    calls: int = 0
    retries: Counter[str] = field(default_factory=Counter)  # status code name -> retries
    latencies: list[float] = field(default_factory=list)  # seconds, successful calls
    elapsed: float = 0.0
    rejections: list[str] = field(default_factory=list)  # first few, "event_id: field why"

    def record(self, result: pb.BatchResult, latency: float) -> None:
        self.calls += 1
        self.latencies.append(latency)
        self.events += len(result.outcomes)
        self.accepted += result.accepted
        self.duplicates += result.duplicates
        self.rejected += result.rejected
        note_rejections(self.rejections, [(o.event_id, o) for o in result.outcomes])

    def percentile(self, q: float) -> float:
        """Latency (seconds) under which `q` (0-1) of the calls finished; nearest rank."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    @property
    def throughput(self) -> float:
        """Events per second over the whole send."""
        return self.events / self.elapsed if self.elapsed else 0.0


@dataclass
class _Caller:
    stub: pb_grpc.IngestionServiceAsyncStub
    metadata: tuple[tuple[str, str], ...]
    options: SendOptions
    stats: SendStats
    on_batch: Callable[[int], None] | None
    rng: random.Random = field(default_factory=random.Random)

    async def call(self, batch: list[ev.Event]) -> None:
        """One TrackBatch with retries; the same events (same ids) every attempt."""
        for attempt in range(self.options.max_attempts):
            if self.options.stamp_sent_at:
                _stamp(batch)
            started = time.perf_counter()
            try:
                reply = await self.stub.TrackBatch(
                    pb.TrackBatchRequest(events=batch, backfill=self.options.backfill),
                    metadata=self.metadata,
                    timeout=self.options.timeout,
                )
            except grpc.aio.AioRpcError as error:
                await self._wait_or_fail(error, attempt)
                continue
            self.stats.record(reply.result, time.perf_counter() - started)
            if self.on_batch is not None:
                self.on_batch(len(batch))
            return

    async def _wait_or_fail(self, error: grpc.aio.AioRpcError, attempt: int) -> None:
        delay = delay_before_retry(error, attempt, base=self.options.backoff, rng=self.rng)
        if delay is None or attempt + 1 >= self.options.max_attempts:
            raise SendError(f"TrackBatch failed after {attempt + 1} attempt(s): {error.code().name} {error.details()}")
        self.stats.retries[error.code().name] += 1
        await asyncio.sleep(delay)

    async def work(self, queue: asyncio.Queue[list[ev.Event] | None]) -> None:
        while (batch := await queue.get()) is not None:
            await self.call(batch)


def _stamp(batch: list[ev.Event]) -> None:
    now = Timestamp()
    now.GetCurrentTime()
    for event in batch:
        event.sent_at.CopyFrom(now)


async def send(
    events: Iterable[ev.Event],
    *,
    address: str,
    api_key: str,
    options: SendOptions | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> SendStats:
    """Send every event; `on_batch(n)` is called after each answered batch (progress bars).

    Raises:
        SendError: a batch failed with a final error or ran out of attempts.
    """
    options = options or SendOptions()
    stats = SendStats()
    started = time.perf_counter()
    async with grpc.aio.insecure_channel(address) as channel:
        caller = _Caller(pb_grpc.IngestionServiceStub(channel), (("x-api-key", api_key),), options, stats, on_batch)
        queue: asyncio.Queue[list[ev.Event] | None] = asyncio.Queue(maxsize=options.in_flight * 2)
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(options.in_flight):
                    group.create_task(caller.work(queue))
                for batch in batched(events, options.batch_size):
                    await queue.put(batch)
                for _ in range(options.in_flight):
                    await queue.put(None)
        except* SendError as failed:
            raise failed.exceptions[0] from None
    stats.elapsed = time.perf_counter() - started
    return stats
