"""Identity's resolution throughput: EVENTS filled while identity idles, then identity timed
catching up, beside a bare JetStream pull consumer reading and acking the same events in the
same run; identity's peak RSS. On the stack of `identity.quality`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import nats
from bullseye_platform.eventlog import StreamSpec, ensure_stream

from bullseye_devtools.bench.identity import RESOLVED, SEED, identity_stack, pipeline, resolved_events
from bullseye_devtools.bench.pull import pull_rate
from bullseye_devtools.bench.registry import Result, Session, benchmark
from bullseye_devtools.bench.rss import vm_hwm
from bullseye_devtools.stack.local import LocalStack
from bullseye_devtools.traffic import SendOptions, send
from bullseye_devtools.traffic.journeys import generate_journeys

EVENTS = "EVENTS"
# Identity pointed at an empty stream: it serves data keys to ingestion but resolves nothing,
# so EVENTS fills up for the throughput run without a config switch in the service.
IDLE = {"IDENTITY_EVENTS_STREAM": "IDLE_EVENTS", "IDENTITY_EVENTS_SUBJECT_PREFIX": "idle-events"}
FETCH = 256  # identity's default batch


async def last_sequence(nats_url: str, stream: str) -> int:
    client = await nats.connect(nats_url)
    try:
        return int((await client.jetstream().stream_info(stream)).state.last_seq)
    finally:
        await client.close()


@dataclass(frozen=True)
class Timing:
    steady: float  # events/s from the first resolved event to the last
    overall: float  # events/s from the process's start, start-up included
    startup: float  # seconds from the start to the first resolved event


def _timing(count: int, started: float, first: tuple[float, int] | None, now: float, target: int) -> Timing:
    at, resolved_then = first or (started, target - count)
    steady = (target - resolved_then) / (now - at) if now > at and target > resolved_then else count / (now - started)
    return Timing(steady=steady, overall=count / (now - started), startup=at - started)


async def resolve_timed(stack: LocalStack, *, before: int, count: int, stall: float = 60.0) -> tuple[Timing, int]:
    """Start identity on the filled EVENTS stream; time until RESOLVED holds `count` more events.

    Polls the server's per-subject counts, so the watcher takes no CPU from identity.
    Returns the timing and identity's peak RSS in bytes.

    Raises:
        TimeoutError: nothing new resolved for `stall` seconds.
    """
    url, target = stack.env["NATS_URL"], before + count
    assert stack.identity is not None
    # Owned by the stack from now on, so that its teardown stops it whatever happens here.
    process = stack.identity = stack.identity_process(port=stack.identity.port)
    started, first, seen, changed = time.perf_counter(), None, before, time.perf_counter()
    starting = asyncio.create_task(asyncio.to_thread(process.start))
    while seen < target:
        await asyncio.sleep(0.05)
        if starting.done() and starting.exception():
            await starting  # the process did not come up: raise why
        now, latest = time.perf_counter(), await resolved_events(url)
        if latest > seen:
            first, changed = first or (now, latest), now
        elif now - changed > stall:
            raise TimeoutError(f"{RESOLVED}: {latest - before:,} of {count:,} events resolved, stuck for {stall:.0f}s")
        seen = latest
    finished = time.perf_counter()
    await starting
    assert process.proc is not None
    return _timing(count, started, first, finished, target), vm_hwm(process.proc.pid)  # the kernel's high-water mark


def restart_identity(stack: LocalStack, **extra: str) -> None:
    """The same port, so ingestion keeps its channel; `extra` settings (IDLE, say)."""
    assert stack.identity is not None
    port = stack.identity.port
    stack.identity.stop()
    stack.identity = stack.identity_process(port=port, **extra).start()


async def make_idle_stream(nats_url: str) -> None:
    client = await nats.connect(nats_url)
    try:
        spec = StreamSpec(name=IDLE["IDENTITY_EVENTS_STREAM"], subject_prefix=IDLE["IDENTITY_EVENTS_SUBJECT_PREFIX"])
        await ensure_stream(client.jetstream(), spec)
    finally:
        await client.close()


def fill_events(session: Session, stack: LocalStack, persons: int) -> tuple[int, int, int]:
    """Journeys into EVENTS while identity idles; (first new sequence, accepted, resolved before)."""
    url = stack.env["NATS_URL"]
    asyncio.run(make_idle_stream(url))
    restart_identity(stack, **IDLE)
    journeys = generate_journeys(persons, SEED + 1)
    first_seq = asyncio.run(last_sequence(url, EVENTS)) + 1
    before = asyncio.run(resolved_events(url))
    key = pipeline(stack, "bench-throughput").api_key
    options = SendOptions(backfill=True)
    sent = asyncio.run(send(journeys.events, address=stack.ingestion_address, api_key=key, options=options))
    session.step(f"{sent.accepted:,} events of {persons:,} persons in EVENTS; identity idle")
    assert stack.identity is not None
    stack.identity.stop()
    return first_seq, sent.accepted, before


@benchmark(
    "identity.throughput",
    provides=["identity.events.pull_consume", "identity.resolve.throughput", "identity.rss_peak"],
)
def throughput(session: Session) -> Iterator[Result]:
    """Events/s through identity catching up on a filled EVENTS stream, beside a bare pull
    consumer reading and acking the same events; identity's peak RSS over the run."""
    stack: LocalStack = session.resource("identity", identity_stack)
    first_seq, count, before = fill_events(session, stack, 80 if session.quick else 2000)
    url = stack.env["NATS_URL"]
    raw = asyncio.run(pull_rate(url, stream=EVENTS, subjects="events.>", count=count, fetch=FETCH, first_seq=first_seq))
    session.step(f"bare pull consumer: {raw:,.0f} msgs/s; starting identity on {count:,} unresolved events")
    timing, peak = asyncio.run(resolve_timed(stack, before=before, count=count))
    session.step(
        f"identity: {timing.steady:,.0f} events/s ({timing.overall:,.0f} with its {timing.startup:.1f} s start)"
    )
    detail = {"events": count, "fetch": FETCH, "overall_events_per_s": round(timing.overall, 1),
              "startup_s": round(timing.startup, 2)}  # fmt: skip
    yield Result("identity.events.pull_consume", raw, "events/s", detail={"events": count, "fetch": FETCH})
    yield Result(
        "identity.resolve.throughput", timing.steady, "events/s", baseline="identity.events.pull_consume", detail=detail
    )
    yield Result("identity.rss_peak", peak / 1e6, "MB", detail={"measured": "VmHWM of the catching-up process"})
