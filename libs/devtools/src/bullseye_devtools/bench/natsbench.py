"""Raw nats-py JetStream publishing: the ceiling a Python service could reach on this machine.

Pipelined `js.publish_async` (a window of publishes, then gather their acks) with a unique
`Nats-Msg-Id` per message, into a one-replica stream; best of a few runs. Payloads are the
serialized product views that ingestion receives, so both sides move the same bytes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import nats
import psutil
from bullseye_platform.eventlog import Durability, StreamSpec, ensure_stream
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from bullseye_devtools.bench.events import BATCH, RequestFactory
from bullseye_devtools.bench.loadgen import percentile
from bullseye_devtools.bench.registry import Result, Session, benchmark
from bullseye_devtools.stack import NatsServer

PARTITIONS = 16
SPEC = StreamSpec(name="BENCH", subject_prefix="bench", replicas=1)
PAYLOAD = "~440 bytes (the product views the ingestion benchmark sends)"


@dataclass(frozen=True)
class PublishPlan:
    messages: int
    runs: int
    window: int = 1000


Batch = list[tuple[str, bytes, dict[str, str]]]


def prepared(factory: RequestFactory, count: int) -> Batch:
    """Subjects, payloads and headers built before the clock starts."""
    batch: Batch = []
    for number in range(count):
        msg_id, payload = factory.event()
        batch.append((f"bench.{number % PARTITIONS}.product_viewed", payload, {"Nats-Msg-Id": msg_id}))
    return batch


async def timed_publish(js: JetStreamContext, batch: Batch, window: int) -> float:
    """Messages per second for one pipelined pass over `batch`."""
    started = time.perf_counter()
    for first in range(0, len(batch), window):
        futures = [
            await js.publish_async(subject, payload, headers=headers)
            for subject, payload, headers in batch[first : first + window]
        ]
        acks = await asyncio.gather(*futures)
        assert not any(a.duplicate for a in acks), "message ids must be unique"
    return len(batch) / (time.perf_counter() - started)


@dataclass
class Measured:
    best: float
    rates: list[float]
    cpu_us_per_event: dict[str, float]


def cpu_seconds(server: psutil.Process) -> tuple[float, float]:
    """CPU time so far of this process (the client) and of nats-server."""
    times = server.cpu_times()
    return time.process_time(), times.user + times.system


async def runs(url: str, server: psutil.Process, plan: PublishPlan, session: Session, label: str) -> Measured:
    nc = await nats.connect(url, name="bullseye-bench", pending_size=64 * 1024 * 1024)
    try:
        js = nc.jetstream()
        await ensure_stream(js, SPEC)
        factory = RequestFactory(seed=11)
        await timed_publish(js, prepared(factory, min(plan.messages, 2000)), plan.window)  # warm-up
        found, used = [], [0.0, 0.0]
        for run in range(1, plan.runs + 1):
            batch = prepared(factory, plan.messages)
            before = cpu_seconds(server)
            found.append(await timed_publish(js, batch, plan.window))
            used = [u + a - b for u, a, b in zip(used, cpu_seconds(server), before, strict=True)]
            session.step(f"{label} run {run}/{plan.runs}: {found[-1]:,.0f} msgs/s")
    finally:
        await nc.close()
    client, nats_server = (round(u / (plan.messages * plan.runs) * 1e6, 1) for u in used)
    return Measured(max(found), found, {"client": client, "nats_server": nats_server})


def measure(session: Session, durability: Durability, plan: PublishPlan, label: str) -> Measured:
    """Best rate of `plan.runs`, and CPU per message of this client and of the server."""
    server = NatsServer(session.workdir / f"nats-{durability.value}", durability=durability).start()
    try:
        assert server.proc is not None
        return asyncio.run(runs(server.url, psutil.Process(server.proc.pid), plan, session, label))
    finally:
        server.stop()


@benchmark("nats.publish_async")
def publish_default(session: Session) -> Iterator[Result]:
    """Default (lazy fsync) server: what replicated durability costs per node."""
    plan = PublishPlan(messages=2000 if session.quick else 20_000, runs=1 if session.quick else 3)
    found = measure(session, Durability.REPLICATED, plan, "default fsync")
    yield Result("nats.publish_async", found.best, "events/s", detail=_detail(plan, found, "default (lazy) fsync"))


@benchmark("nats.publish_async.strict", needs=["nats.publish_async"])
def publish_strict(session: Session) -> Iterator[Result]:
    """`sync_interval: always`, message by message: why the writer batches."""
    plan = PublishPlan(messages=1000 if session.quick else 10_000, runs=1 if session.quick else 3)
    found = measure(session, Durability.STRICT, plan, "strict fsync")
    detail = _detail(plan, found, "sync_interval: always")
    yield Result("nats.publish_async.strict", found.best, "events/s", baseline="nats.publish_async", detail=detail)


def _detail(plan: PublishPlan, found: Measured, mode: str) -> dict[str, object]:
    runs = [round(r, 1) for r in found.rates]
    return {
        "mode": mode,
        "messages": plan.messages,
        "payload": PAYLOAD,
        "window": plan.window,
        "runs": runs,
        "cpu_us_per_event": found.cpu_us_per_event,
    }


async def atomic_commit_latencies(url: str, batch: Batch) -> list[float]:
    """Milliseconds from the first message of an atomic batch to its commit ack, batch by batch."""
    nc = await nats.connect(url, name="bullseye-bench-atomic")
    try:
        await ensure_stream(nc.jetstream(), SPEC)
        latencies = []
        for first in range(0, len(batch), BATCH):
            started = time.perf_counter()
            await _atomic_batch(nc, batch[first : first + BATCH])
            latencies.append((time.perf_counter() - started) * 1000)
        return latencies
    finally:
        await nc.close()


async def _atomic_batch(nc: NATS, batch: Batch) -> None:
    batch_id = f"b{time.monotonic_ns()}"
    for number, (subject, payload, headers) in enumerate(batch, start=1):
        marks = {**headers, "Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(number)}
        if number < len(batch):
            await nc.publish(subject, payload, headers=marks)
            continue
        reply = await nc.request(subject, payload, timeout=10, headers={**marks, "Nats-Batch-Commit": "1"})
        assert b'"error"' not in reply.data, reply.data


@benchmark("nats.atomic_batch.latency", provides=["nats.atomic_batch.latency_p50", "nats.atomic_batch.latency_p99"])
def atomic_batch_latency(session: Session) -> Iterator[Result]:
    """Strict server, one atomic batch of BATCH messages at a time: the floor under any
    durable append of a TrackBatch call, since the server stages and fsyncs every batch."""
    batches = 20 if session.quick else 300
    # Staged as the services' streams are (stack/staging.py), so the floor is comparable.
    server = NatsServer(session.workdir / "nats-atomic", durability=Durability.STRICT, streams=(SPEC.name,)).start()
    try:
        latencies = asyncio.run(atomic_commit_latencies(server.url, prepared(RequestFactory(seed=13), batches * BATCH)))
    finally:
        server.stop()
    ordered = sorted(latencies)
    p50, p99 = percentile(ordered, 50), percentile(ordered, 99)
    session.step(f"atomic batches of {BATCH}: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    detail = {"batches": batches, "batch": BATCH, "mode": "sync_interval: always"}
    yield Result("nats.atomic_batch.latency_p50", p50, "ms", detail=detail)
    yield Result("nats.atomic_batch.latency_p99", p99, "ms", detail=detail)
