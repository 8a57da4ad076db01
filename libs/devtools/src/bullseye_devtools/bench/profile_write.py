"""Profile's write path: projection throughput beside a bare pull consumer, rebuild speed,
segment freshness end to end, and profile's peak RSS.

Throughput and rebuild read a RESOLVED stream of their own, filled straight with
ResolvedRecords (as identity writes them) while no profile process runs: the figures are
profile's alone. Freshness runs the whole chain (ingestion -> identity -> profile) at a
fixed rate and times each event from the moment ingestion accepted it to the moment its
person's `segment.entered` fact is on PROFILE.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC

import asyncpg
import grpc
import nats
import psutil
import uvloop
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import resolved_pb2 as rs
from bullseye.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from bullseye.profile.v1 import profile_pb2_grpc
from bullseye.profile.v1 import segments_pb2 as sg
from bullseye_platform.auth import TokenMinter
from bullseye_platform.eventlog import LogMessage, LogWriter, StreamSpec, ensure_stream, partition_of, subject_for
from bullseye_platform.grpc import client
from google.type import money_pb2
from nats.aio.client import Client as NATS

from bullseye_devtools.bench import stored
from bullseye_devtools.bench.cpu_meters import CpuMeters, postmaster
from bullseye_devtools.bench.loadgen import percentile
from bullseye_devtools.bench.pull import pull_rate
from bullseye_devtools.bench.registry import Result, Session, Target, benchmark
from bullseye_devtools.bench.rss import vm_hwm
from bullseye_devtools.stack.local import LocalStack, create_api_key
from bullseye_devtools.stack.services import ServiceProcess

STREAM = StreamSpec(name="RESOLVED_BENCH", subject_prefix="resolvedbench")
PARTITIONS = 16
EVENTS_PER_PERSON = 20
FETCH = 500  # profile's default batch
APPEND = 1000  # records per atomic batch while filling
SEGMENT = "bench-viewers"
WORKERS = 2  # profile processes splitting RESOLVED's partitions in the second rebuild


@dataclass
class ProfileStack:
    """The `make up` stack plus profile processes started on demand (one at a time, or the
    workers of one schema splitting its partitions)."""

    local: LocalStack
    processes: list[ServiceProcess] = field(default_factory=list)

    def profile(self, name: str, *, worker: str = "", **extra: str) -> ServiceProcess:
        """A profile process with its own schema, PROFILE stream and `extra` settings (not started);
        the workers of one name share them and differ only by their log folder."""
        env = {
            **self.local.service_env("profile"),
            "PROFILE_SCHEMA": f"profile_{name}",
            "PROFILE_STREAM": f"PROFILE_{name.upper()}",
            "PROFILE_SUBJECT_PREFIX": f"profile{name}",
            "PROFILE_IDENTITY_ADDRESS": self.local.identity_address,
            **extra,
        }
        assert self.local.nats is not None
        self.local.nats.stage(env["PROFILE_STREAM"])  # staged in memory like the default PROFILE
        logs = self.local.root / "logs" / (f"{name}-{worker}" if worker else name)  # worker: the log folder's suffix
        process = ServiceProcess("profile", "bullseye_profile", env, logs)
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


@contextlib.contextmanager
def profile_stack(session: Session) -> Iterator[ProfileStack]:
    session.step("starting PostgreSQL, a strict nats-server, identity and ingestion")
    local = LocalStack(session.workdir / "profile", database_url=None).start()
    stack = ProfileStack(local)
    try:
        yield stack
    finally:
        stack.stop()
        local.stop()


# --- filling a RESOLVED stream ------------------------------------------------------------


def _usd(amount: float) -> money_pb2.Money:
    return money_pb2.Money(currency_code="USD", units=int(amount), nanos=int((amount % 1) * 1e9))


def resolved_record(rng: random.Random, person: str, seq: int, now: float) -> rs.ResolvedRecord:
    """One event of a shopper: mostly views, some cart adds and orders, over the last 90 days."""
    event = ev.Event(event_id=f"bench-{person}-{seq}", identifiers=ev.Identifiers(anonymous_id=person))
    event.occurred_at.FromSeconds(int(now - rng.random() * 90 * 86400))
    event.context.timezone = "Europe/Paris"
    roll = rng.random()
    if roll < 0.5:
        event.page_viewed.CopyFrom(ev.PageViewed(name="home", category=rng.choice(("shoes", "bags", "hats"))))
    elif roll < 0.8:
        event.product_viewed.CopyFrom(ev.ProductViewed(product_id=f"p{rng.randrange(500)}", price=_usd(19.9)))
    elif roll < 0.95:
        event.cart_item_added.CopyFrom(ev.CartItemAdded(product_id=f"p{rng.randrange(500)}", price=_usd(19.9)))
    else:
        event.order_completed.CopyFrom(ev.OrderCompleted(order_id=f"o-{person}-{seq}", revenue=_usd(59.7)))
    return rs.ResolvedRecord(event=rs.ResolvedEvent(person_id=person, event=event))


def messages(first: int, count: int, *, persons: int, seed: int = 4) -> Iterator[LogMessage]:
    """Records `first` to `first + count` (unique event ids) of `persons` shoppers, shuffled."""
    rng, now = random.Random(seed + first), time.time()
    for seq in range(first, first + count):
        person = f"bench-person-{rng.randrange(persons)}"
        record = resolved_record(rng, person, seq, now)
        kind = record.event.event.WhichOneof("payload") or "unknown"
        subject = subject_for(STREAM.subject_prefix, partition_of(person, PARTITIONS), kind)
        yield LogMessage(subject=subject, payload=record.SerializeToString(), msg_id=f"r:{record.event.event.event_id}")


async def make_stream(nats_url: str) -> None:
    client = await nats.connect(nats_url)
    try:
        await ensure_stream(client.jetstream(), STREAM)
    finally:
        await client.close()


async def fill(session: Session, nats_url: str, first: int, count: int, *, persons: int) -> int:
    """Append records `first` to `first + count` with the atomic-batch writer; returns the
    stream's last sequence."""
    client = await nats.connect(nats_url)
    writer = LogWriter(client)
    try:
        await ensure_stream(client.jetstream(), STREAM)
        batch: list[LogMessage] = []
        in_flight: set[asyncio.Task[object]] = set()
        done, step = 0, max(count // 10, 1)
        for message in messages(first, count, persons=persons):
            batch.append(message)
            if len(batch) == APPEND:
                in_flight.add(asyncio.ensure_future(writer.append(batch)))
                batch, done = [], done + len(batch)
                if len(in_flight) >= 4:
                    finished, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    for task in finished:
                        task.result()
                if done % step < APPEND:
                    session.step(f"RESOLVED_BENCH: {done:,} of {count:,} records appended")
        if batch:
            in_flight.add(asyncio.ensure_future(writer.append(batch)))
        for task in in_flight:
            await task
        return int((await client.jetstream().stream_info(STREAM.name)).state.last_seq)
    finally:
        await writer.close()
        await client.close()


# --- timing the projection ----------------------------------------------------------------


async def applied(dsn: str, schema: str) -> int:
    """Records the profile projection has committed: its journal rows (one per event record;
    stored positions are stream sequences, not counts)."""
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        return int(await conn.fetchval("SELECT count(*) FROM journal"))
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


@dataclass(frozen=True)
class Catchup:
    rate: float  # records/s from the first applied batch to the last
    seconds: float
    cpu_us_per_event: float  # the profile process's CPU time per record over the same span
    postgres_cpu_us_per_event: float  # PostgreSQL's, the same way
    rss_peak: int


def catch_up(session: Session, stack: ProfileStack, processes: Sequence[ServiceProcess], *, count: int, label: str,
             stall: float = 120.0) -> Catchup:  # fmt: skip
    """Start `processes` (the workers of one schema) on the filled stream; time until their
    journal holds `count` events. CPU is theirs summed, RSS the largest one's."""
    dsn, schema = stack.local.env["DATABASE_URL"], processes[0].env["PROFILE_SCHEMA"]
    for process in processes:
        process.start(timeout=60.0)
    cpu = [psutil.Process(p.proc.pid) for p in processes if p.proc is not None]
    meters: CpuMeters | None = None
    first: tuple[float, float] | None = None
    seen, changed, last_step = 0, time.perf_counter(), time.perf_counter()
    while seen < count:
        time.sleep(0.2)
        now, latest = time.perf_counter(), asyncio.run(applied(dsn, schema))
        if latest > seen:
            first, changed = first or (now, _cpu_seconds(cpu)), now
            meters = meters or CpuMeters({"postgres": postmaster(stack.local)})
        elif now - changed > stall:
            raise TimeoutError(f"{label}: {latest:,} of {count:,} records applied, stuck for {stall:.0f} s")
        if now - last_step > 10:
            session.step(f"{label}: {latest:,} of {count:,} records applied")
            last_step = now
        seen = latest
    end, end_cpu = time.perf_counter(), _cpu_seconds(cpu)
    started, started_cpu = first or (end, end_cpu)
    postgres_ms = (meters.per_event_ms(count) if meters else {}).get("postgres", 0.0)
    return Catchup(
        rate=count / max(end - started, 1e-6),
        seconds=end - started,
        cpu_us_per_event=(end_cpu - started_cpu) / count * 1e6,
        postgres_cpu_us_per_event=postgres_ms * 1000,
        rss_peak=max(vm_hwm(p.pid) for p in cpu),
    )


def _cpu_seconds(processes: Sequence[psutil.Process] | psutil.Process) -> float:
    parts = [processes] if isinstance(processes, psutil.Process) else processes
    return float(sum(t.user + t.system for t in (p.cpu_times() for p in parts)))


def rebuild(stack: ProfileStack, process: ServiceProcess) -> None:
    """`python -m bullseye_profile rebuild` with the service's settings (the service stopped)."""
    done = subprocess.run([sys.executable, "-m", "bullseye_profile", "rebuild"], env={**os.environ, **process.env},
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"rebuild failed: {done.stderr[-2000:]}")


async def create_segment(address: str, operator: TokenMinter) -> None:
    """A segment every viewer enters: each batch's refresh evaluates it for every person touched."""
    rule = sg.Rule(event_count=sg.EventCount(event_type="page_viewed", op=sg.OPERATOR_GE, count=1))
    async with client.channel(address, credentials=operator, deadline=None) as channel:
        api = profile_pb2_grpc.ProfileServiceStub(channel)
        await api.CreateSegment(
            sg.CreateSegmentRequest(segment=sg.Segment(segment_id=SEGMENT, name=SEGMENT, rule=rule))
        )


@benchmark(
    "profile.write",
    provides=["profile.resolved.pull_consume", "profile.project.throughput", "profile.rebuild.throughput",
              "profile.rss_peak"],
)  # fmt: skip
def write_path(session: Session) -> Iterator[Result]:
    """The live projection (a segment defined, refreshed per batch) catching up on a filled
    stream, beside a bare pull consumer of the same records; then more records and a rebuild
    replaying all of them from zero (the issue's 1M); profile's peak RSS."""
    stack: ProfileStack = session.resource("profile-write", profile_stack)
    live_count, total = sizes(session)
    persons = max(1, total // EVENTS_PER_PERSON)
    settings = {"PROFILE_RESOLVED_STREAM": STREAM.name, "PROFILE_RESOLVED_SUBJECT_PREFIX": STREAM.subject_prefix,
                "PROFILE_RESOLVED_PARTITIONS": str(PARTITIONS)}  # fmt: skip
    url = stack.local.env["NATS_URL"]
    asyncio.run(make_stream(url))
    first = stack.profile("write", **settings).start(timeout=60.0)  # creates the schema and the segment, then idles
    asyncio.run(create_segment(first.address, stack.local.operator()))
    first.stop()
    filled(session, url, 0, live_count, persons=persons)
    raw = asyncio.run(
        pull_rate(url, stream=STREAM.name, subjects=f"{STREAM.subject_prefix}.>", count=live_count, fetch=FETCH)
    )
    session.step(f"bare pull consumer: {raw:,.0f} records/s")
    live = timed_run(session, stack, settings, count=live_count, label="live projection")
    filled(session, url, live_count, total - live_count, persons=persons)
    rebuild(stack, stack.profile("write", **settings))
    replay = timed_run(session, stack, settings, count=total, label="rebuild, 1 process")
    rebuild(stack, stack.profile("write", **settings))
    split = timed_run(session, stack, settings, count=total, label=f"rebuild, {WORKERS} processes", workers=WORKERS)
    detail = {"persons": persons, "partitions": PARTITIONS, "fetch": FETCH}
    one = {f"one_process_{k}": v for k, v in {**_figures(replay), "events_per_s": round(replay.rate)}.items()}
    yield Result("profile.resolved.pull_consume", raw, "events/s", detail={**detail, "events": live_count})
    yield Result("profile.project.throughput", live.rate, "events/s", baseline="profile.resolved.pull_consume",
                 detail={**detail, **_figures(live), "events": live_count, "segments": 1})  # fmt: skip
    yield Result("profile.rebuild.throughput", split.rate, "events/s", baseline="profile.resolved.pull_consume",
                 target=Target(">=", 15_000), detail={**detail, **_figures(split), "events": total,
                 "processes": f"{WORKERS} profile processes split the {PARTITIONS} partitions "
                              "(PROFILE_WORKER_PARTITIONS); profile CPU is theirs summed", **one})  # fmt: skip
    yield Result("profile.rss_peak", max(live.rss_peak, replay.rss_peak, split.rss_peak) / 1e6, "MB",
                 detail={"measured": "VmHWM of the live and the rebuilding processes (the largest one)"})  # fmt: skip


def sizes(session: Session) -> tuple[int, int]:
    """(records the live projection folds, records the rebuild replays): the issue's 1M by
    default, `BENCH_PROFILE_EVENTS=LIVE,TOTAL` to try others (a 2-core run of 1M takes minutes)."""
    if session.quick:
        return 2_000, 5_000
    live, total = (int(n) for n in os.environ.get("BENCH_PROFILE_EVENTS", "100000,1000000").split(","))
    return live, max(total, live)


def filled(session: Session, url: str, first: int, count: int, *, persons: int) -> None:
    session.step(f"appending {count:,} resolved events to {STREAM.name}")
    started = time.perf_counter()
    asyncio.run(fill(session, url, first, count, persons=persons))
    session.step(f"appended at {count / (time.perf_counter() - started):,.0f} records/s")


def timed_run(session: Session, stack: ProfileStack, settings: dict[str, str], *, count: int, label: str,
              workers: int = 1) -> Catchup:  # fmt: skip
    """The projection on schema `write`, run by `workers` processes that split the partitions."""
    processes = [
        stack.profile("write", worker=share if workers > 1 else "", **settings, PROFILE_WORKER_PARTITIONS=share)
        for share in shares(PARTITIONS, workers)
    ]  # fmt: skip
    try:
        timing = catch_up(session, stack, processes, count=count, label=label)
    finally:
        for process in processes:
            process.stop()
    session.step(f"{label}: {timing.rate:,.0f} records/s, {timing.cpu_us_per_event:,.0f} us of profile CPU per record")
    return timing


def shares(partitions: int, workers: int) -> list[str]:
    """Contiguous ranges, one per worker ('0-7', '8-15'), as PROFILE_WORKER_PARTITIONS takes them."""
    bounds = [partitions * n // workers for n in range(workers + 1)]
    return [f"{low}-{high - 1}" for low, high in itertools.pairwise(bounds) if high > low]


def _figures(timing: Catchup) -> dict[str, float]:
    return {
        "seconds": round(timing.seconds, 1),
        "profile_cpu_us_per_event": round(timing.cpu_us_per_event, 1),
        "postgres_cpu_us_per_event": round(timing.postgres_cpu_us_per_event, 1),
    }


# --- segment freshness, end to end ---------------------------------------------------------


@dataclass
class Journey:
    """When one event was sent and accepted, resolved (stored on RESOLVED) and its person
    entered (the fact stored on PROFILE); wall-clock seconds."""

    sent: float
    accepted: float | None = None
    person: str | None = None
    resolved: float | None = None


@dataclass
class Watch:
    journeys: dict[str, Journey] = field(default_factory=dict)
    entered: dict[str, float] = field(default_factory=dict)  # person -> when the fact was stored
    # Seconds from the fact's occurred_at (profile decided the entry, inside the projection's
    # transaction) to its storing: the commit and the outbox relay's share.
    relayed: list[float] = field(default_factory=list)

    def on_resolved(self, subject: str, data: bytes, stored: float) -> None:
        record = rs.ResolvedRecord.FromString(data)
        journey = self.journeys.get(record.event.event.event_id) if record.WhichOneof("kind") == "event" else None
        if journey is not None and journey.person is None:
            journey.person, journey.resolved = record.event.person_id, stored

    def on_entered(self, subject: str, data: bytes, stored: float) -> None:
        if not subject.endswith(".segment.entered"):
            return  # the segment's definition
        fact = sg.SegmentMembershipChanged.FromString(data)
        if fact.segment_id == SEGMENT and fact.entered and fact.person_id not in self.entered:
            self.entered[fact.person_id] = stored
            self.relayed.append(stored - fact.occurred_at.ToDatetime(tzinfo=UTC).timestamp())


def page_view(anonymous_id: str) -> ev.Event:
    event = ev.Event(event_id=str(uuid.uuid4()), identifiers=ev.Identifiers(anonymous_id=anonymous_id))
    event.occurred_at.GetCurrentTime()
    event.page_viewed.name = "home"
    return event


async def send_paced(api: ingestion_pb2_grpc.IngestionServiceAsyncStub, key: str, watch: Watch, *, rate: int,
                     seconds: float, per_call: int = 10) -> None:  # fmt: skip
    """`rate` events/s, each of a new shopper, in calls of `per_call` on a fixed schedule.

    The requests are built before the clock starts, as the ingest load generator's are: this
    client shares the machine with the chain it measures."""
    interval, calls = per_call / rate, int(rate * seconds / per_call)
    batches = [[page_view(f"fresh-{uuid.uuid4().hex}") for _ in range(per_call)] for _ in range(calls)]
    requests = [ingestion_pb2.TrackBatchRequest(events=events) for events in batches]
    start, pending = time.perf_counter(), []

    async def one(events: list[ev.Event], request: ingestion_pb2.TrackBatchRequest) -> None:
        reply = await api.TrackBatch(request, metadata=(("x-api-key", key),))
        now = time.time()
        for event, outcome in zip(events, reply.result.outcomes, strict=True):
            if outcome.status == ingestion_pb2.EVENT_STATUS_ACCEPTED:
                watch.journeys[event.event_id].accepted = now

    for call, (events, request) in enumerate(zip(batches, requests, strict=True)):
        await asyncio.sleep(max(0.0, start + call * interval - time.perf_counter()))
        for event in events:
            watch.journeys[event.event_id] = Journey(sent=time.time())
        pending.append(asyncio.ensure_future(one(events, request)))
    await asyncio.gather(*pending)


async def measure_freshness(
    local: LocalStack, profile: ServiceProcess, *, rate: int, seconds: float, settle: float = 30.0
) -> Watch:
    """Send, wait for the facts, then read both streams with the times JetStream stored each
    message at: nothing subscribes while the chain runs, so the measuring costs it no CPU."""
    await create_segment(profile.address, local.operator())
    client: NATS = await nats.connect(local.env["NATS_URL"])
    js = client.jetstream()
    streams = {"resolved": "RESOLVED", "profile": profile.env["PROFILE_STREAM"]}
    watch = Watch()
    try:
        first = await stored.last_seq(js, streams["resolved"]) + 1
        key = create_api_key(local.env, source="bench-freshness", rate=1_000_000, burst=1_000_000)
        async with grpc.aio.insecure_channel(local.ingestion_address) as channel:
            await send_paced(ingestion_pb2_grpc.IngestionServiceStub(channel), key, watch, rate=rate, seconds=seconds)
        accepted = sum(1 for j in watch.journeys.values() if j.accepted is not None)
        # The segment's definition, then an entry per journey.
        facts = await stored.stored_at_least(js, streams["profile"], accepted + 1, within=settle)
        last = await stored.last_seq(js, streams["resolved"])
        await stored.read_stored(js, streams["resolved"], first, last, watch.on_resolved)
        await stored.read_stored(js, streams["profile"], 1, facts, watch.on_entered)
        return watch
    finally:
        await client.close()


def _ms(values: list[float], q: float) -> float:
    return percentile(sorted(values), q) * 1000


@benchmark(
    "profile.freshness",
    provides=["profile.freshness.p50", "profile.freshness.p99"],
)
def freshness(session: Session) -> Iterator[Result]:
    """Event accepted by ingestion -> its new shopper's `segment.entered` on PROFILE, through
    identity and profile, at a fixed rate; each event is a new shopper, so each enters once."""
    stack: ProfileStack = session.resource("profile-write", profile_stack)
    rate, seconds = (200, 2.0) if session.quick else (int(os.environ.get("BENCH_FRESHNESS_RATE", "1000")), 20.0)
    session.step(f"freshness: {rate:,} events/s for {seconds:.0f} s through ingestion, identity and profile")
    profile = stack.profile("fresh").start(timeout=60.0)  # reads identity's RESOLVED
    assert profile.proc is not None
    meters = CpuMeters({**stack.local.pids(), "postgres": postmaster(stack.local), "profile": profile.proc.pid})
    try:
        # uvloop: this client shares the machine with the chain it measures; the lighter the better.
        watch = uvloop.run(measure_freshness(stack.local, profile, rate=rate, seconds=seconds))
        cpu = meters.per_event_ms(len(watch.journeys))
    finally:
        profile.stop()
    done = [j for j in watch.journeys.values() if j.accepted and j.person in watch.entered]
    if not done:
        raise RuntimeError("no segment.entered fact matched a sent event")
    total = [watch.entered[j.person] - j.accepted for j in done if j.person and j.accepted]
    to_resolved = [j.resolved - j.accepted for j in done if j.resolved and j.accepted]
    to_profile = [watch.entered[j.person] - j.resolved for j in done if j.person and j.resolved]
    accept = [j.accepted - j.sent for j in done if j.accepted]
    detail = {
        "events": len(watch.journeys), "matched": len(done), "rate": rate, "seconds": seconds,
        "accepted_to_resolved_p50_ms": round(_ms(to_resolved, 50), 1),
        "accepted_to_resolved_p99_ms": round(_ms(to_resolved, 99), 1),
        "resolved_to_entered_p50_ms": round(_ms(to_profile, 50), 1),
        "resolved_to_entered_p99_ms": round(_ms(to_profile, 99), 1),
        "sent_to_accepted_p99_ms": round(_ms(accept, 99), 1),
        "decided_to_entered_p50_ms": round(_ms(watch.relayed, 50), 1),
        "decided_to_entered_p99_ms": round(_ms(watch.relayed, 99), 1),
        "cpu_ms_per_event": cpu,
    }  # fmt: skip
    yield Result("profile.freshness.p50", _ms(total, 50), "ms", detail=detail)
    yield Result("profile.freshness.p99", _ms(total, 99), "ms", target=Target("<=", 500), detail=detail)
