"""Profile's read path: GetProfile beside a no-op gRPC call (Health.Check) on the same
server, its latency at a fixed rate, and the process's peak RSS.

The stack is PostgreSQL, a strict nats-server and one profile process on the wall clock.
Persons with realistic histories (views, searches, carts, orders, traits, consent over
120 days) are written straight into RESOLVED as identity writes them, and the benchmark
waits until profile has folded every event into its journal. Each person is then read
once (the cold read: a fold of the journal that stores the person's base, see
bullseye_profile.reading.bases; its latency is in the details), and then:
  (a) closed loops: Health.Check and GetProfile over all persons in turn, ROUNDS times, the
      same calls in flight (bench.rounds); the ratio of their best windows is the target
      (>= 0.6), each round's ratio is in the details;
  (b) open loop at 1,000 calls/s, Health.Check then GetProfile: p50 and p99 from the scheduled
      send time (GetProfile p99 <= 10 ms; Health.Check's shows what the machine allows);
  (c) the profile process's peak RSS;
  (d) (b) again with two processes serving the port (PROFILE_SERVE_PROCESSES=2, calls over
      several connections): one process serves from one core, the other from the second;
  (e) (a) and (b) again with the process's read cache off (PROFILE_READ_CACHE_SIZE=0): every
      read a round trip to PostgreSQL, what a working set larger than the cache costs.
Each figure's details give the share of reads the cache answered (`cache_hit_share`).
`python -m bullseye_devtools.bench.profile_read` is the load generator (its own OS process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psutil
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import resolved_pb2 as rs
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye_platform.auth import TokenMinter
from bullseye_platform.auth.operator import operator_credentials
from bullseye_platform.eventlog import (
    LogMessage,
    LogWriter,
    StreamSpec,
    connect,
    ensure_stream,
    partition_of,
    subject_for,
)
from bullseye_platform.service import settle_heap
from google.type import money_pb2

from bullseye_devtools.bench import rounds
from bullseye_devtools.bench.loadgen import Tally, paced, percentile
from bullseye_devtools.bench.registry import Result, Session, Target, benchmark
from bullseye_devtools.bench.rounds import Summary, in_turn
from bullseye_devtools.bench.rss import RssSampler
from bullseye_devtools.bench.servers import folded, strict_servers
from bullseye_devtools.stack import secrets as stack_secrets
from bullseye_devtools.stack.metrics import by_label, scrape, total
from bullseye_devtools.stack.services import ServiceProcess

RESOLVED = StreamSpec(name="RESOLVED", subject_prefix="resolved")
PARTITIONS = 16  # profile's default PROFILE_RESOLVED_PARTITIONS
SEED = 20261123
CONCURRENCY = 8
SCALED_OUT = 2  # profile processes on one port in (e) (PROFILE_SERVE_PROCESSES, bullseye_platform.serving)
CONNECTIONS_PER_PROCESS = 4  # the kernel deals connections at random: enough for every process to get some
PRIME_PASSES = 10  # priming passes at most until every process's cache holds every person (primed)
ROUNDS = 5  # closed loops of each method, in turn
RATE = 1000.0
APPEND = 1000  # records per atomic append while seeding
METHODS = {"health": "/grpc.health.v1.Health/Check", "profile": "/bullseye.profile.v1.ProfileService/GetProfile"}
CATEGORIES = ("audio", "books", "garden", "kitchen", "toys", "shoes", "outdoor", "beauty")
BRANDS = ("Sonos", "Bosch", "Lego", "Nike", "Penguin", "Weber", "Oral-B")
ZONES = ("Europe/Paris", "America/New_York", "Asia/Shanghai", "UTC", "America/Sao_Paulo")


def person_id(number: int) -> str:
    return f"bench-person-{number:06d}"


def _money(amount: float) -> money_pb2.Money:
    units = int(amount)
    return money_pb2.Money(currency_code="USD", units=units, nanos=round((amount - units) * 1e9))


def _payload(rng: random.Random, number: int, serial: int) -> dict[str, object]:
    """One event's payload, drawn with the frequencies a shop sees (mostly views)."""
    category, brand, price = rng.choice(CATEGORIES), rng.choice(BRANDS), round(rng.uniform(5, 600), 2)
    roll = rng.random()
    if roll < 0.35:
        return {"page_viewed": ev.PageViewed(name="category", category=category)}
    if roll < 0.65:
        return {"product_viewed": ev.ProductViewed(product_id=f"sku-{serial % 500}", category=category,
                                                   price=_money(price))}  # fmt: skip
    if roll < 0.75:
        return {"searched": ev.Searched(query=category)}
    if roll < 0.86:
        return {"cart_item_added": ev.CartItemAdded(cart_id=f"c-{number}", product_id="sku", price=_money(price))}
    if roll < 0.94:
        item = ev.LineItem(product_id="sku", quantity=rng.randint(1, 3), unit_price=_money(price), category=category,
                           brand=brand)  # fmt: skip
        return {"order_completed": ev.OrderCompleted(order_id=f"o-{number}-{serial}", items=[item])}
    if roll < 0.97:
        return {"logged_in": ev.LoggedIn()}
    if roll < 0.99:
        traits = ev.Traits(birth_year=rng.randint(1950, 2006), city="Lyon", membership_tier=rng.choice(["", "gold"]))
        return {"identified": ev.Identified(traits=traits)}
    consent = ev.ConsentChanged(purpose=ev.CONSENT_PURPOSE_MARKETING, channel=ev.CONTACT_CHANNEL_EMAIL,
                                granted=rng.random() < 0.7, source="bench")  # fmt: skip
    return {"consent_changed": consent}


def history(number: int, now: datetime, events: int) -> list[ev.Event]:
    """A person's events over the last 120 days, in sessions, from one device and time zone."""
    rng = random.Random(SEED * 1_000_003 + number)
    zone, device = rng.choice(ZONES), rng.choice(["mobile", "desktop", "tablet"])
    out = []
    for serial in range(events):
        built = ev.Event(event_id=f"bench-{number}-{serial}", identifiers=ev.Identifiers(anonymous_id=f"a-{number}"))
        built.occurred_at.FromDatetime(now - timedelta(days=rng.uniform(0, 120)))
        built.context.timezone, built.context.device.type = zone, device
        built.context.channel = rng.choice([ev.CHANNEL_APP, ev.CHANNEL_WEB])
        built.context.session_id = f"s-{number}-{serial // 6}"
        for kind, message in _payload(rng, number, serial).items():
            getattr(built, kind).CopyFrom(message)
        out.append(built)
    return out


async def seed(nats_url: str, persons: int, events: int) -> int:
    """Every person's history into RESOLVED, partitioned by person as identity does; returns
    the number of events written."""
    now = datetime.now(UTC)
    nc = await connect(nats_url, name="bench-profile-read")
    writer = LogWriter(nc)
    try:
        await ensure_stream(nc.jetstream(), RESOLVED)
        messages = []
        for number in range(persons):
            pid = person_id(number)
            subject = subject_for(RESOLVED.subject_prefix, partition_of(pid, PARTITIONS), "event")
            for built in history(number, now, events):
                record = rs.ResolvedRecord(event=rs.ResolvedEvent(person_id=pid, event=built))
                messages.append(LogMessage(subject=subject, payload=record.SerializeToString(), msg_id=built.event_id))
        for start in range(0, len(messages), APPEND):
            await writer.append(messages[start : start + APPEND])
        return len(messages)
    finally:
        await writer.close()
        await nc.drain()


@dataclass
class ReadStack:
    service: ServiceProcess
    rss: RssSampler
    persons: int
    events: int
    base_env: dict[str, str]  # what every restart starts from
    operator_key: str  # signs the load generator's calls (benchmarks run with authentication on)

    @property
    def processes(self) -> int:
        return int(self.service.env.get("PROFILE_SERVE_PROCESSES", "1"))

    @property
    def connections(self) -> int:
        return 1 if self.processes == 1 else CONNECTIONS_PER_PROCESS * self.processes

    def members(self) -> list[psutil.Process]:
        """The profile process and its serving helpers."""
        assert self.service.proc is not None
        first = psutil.Process(self.service.proc.pid)
        return [first, *first.children()]

    def cpu_seconds(self) -> float:
        return sum(float(t.user + t.system) for t in (p.cpu_times() for p in self.members()))

    def cache_lookups(self) -> dict[str, float]:
        """Reads the profile processes' caches answered ("hit") or passed on ("miss") so far."""
        assert self.service.reported is not None
        found = Counter[str]()
        for port in self.service.reported.metrics_ports:  # the first process's, then each helper's
            found.update(
                by_label(scrape(f"http://127.0.0.1:{port}/metrics"), "profile_read_cache_lookups_total", "result")
            )
        return dict(found)

    def cache_entries(self) -> list[float]:
        """The bases each serving process's cache holds now (the first process's, then each helper's)."""
        assert self.service.reported is not None
        ports = self.service.reported.metrics_ports
        return [total(scrape(f"http://127.0.0.1:{port}/metrics"), "profile_read_cache_entries") for port in ports]

    def restart(self, **env: str) -> None:
        """The profile process again, on the same database and stream, with `env` added to the
        first's. It is reported ready once every serving process listens: a connection made
        before a helper listens would always land on the first process."""
        self.service.stop()
        self.service = ServiceProcess("profile", "bullseye_profile", {**self.base_env, **env},
                                      self.service.log_dir).start()  # fmt: skip


@contextlib.contextmanager
def read_stack(session: Session) -> Iterator[ReadStack]:
    root = session.workdir / "profile-read"
    persons, per_person = (60, 20) if session.quick else (2000, 40)
    with contextlib.ExitStack() as stack:
        postgres, nats = strict_servers(session, root, stack)
        session.step(f"seeding {persons:,} persons x {per_person} events into RESOLVED")
        events = asyncio.run(seed(nats.url, persons, per_person))
        session.step("starting profile; waiting until it has folded every event")
        keys = stack_secrets.generate_auth()
        env = {"NATS_URL": nats.url, "DATABASE_URL": postgres.dsn, "BULLSEYE_DURABILITY": "strict",
               "PROFILE_METRICS_PORT": "0", **stack_secrets.for_service(keys, "profile")}  # fmt: skip
        service = ServiceProcess("profile", "bullseye_profile", env, root / "logs").start()
        assert service.proc is not None
        rss = RssSampler(service.proc.pid, tree=True).start()
        read = ReadStack(service, rss, persons, events, env, keys[stack_secrets.OPERATOR_KEY])
        stack.callback(lambda: read.service.stop())  # the process in place at the end (see restart)
        stack.callback(read.rss.stop)
        asyncio.run(folded(postgres.dsn, "profile", "journal", events, within=600))
        yield read


def drive(stack: ReadStack, *args: str) -> Summary:
    """The load generator in its own process against the profile processes (bench.rounds.drive)."""
    argv = [sys.executable, "-m", "bullseye_devtools.bench.profile_read", "--address", stack.service.address,
            "--connections", str(stack.connections), "--persons", str(stack.persons), *args]  # fmt: skip
    return rounds.drive(stack, argv, {**os.environ, stack_secrets.OPERATOR_KEY: stack.operator_key})


def primed(stack: ReadStack) -> Summary:
    """Every person read on every connection, again until every serving process's cache holds
    every person; the first pass's summary (the cold reads). A process keeps nothing until its
    LISTEN is live (bullseye_profile.reading.cache), which may come after it reported ready, and
    the kernel may deal all of a pass's connections to one process.

    Raises:
        RuntimeError: a cache still lacks persons after PRIME_PASSES passes.
    """
    argv = ("--method", "profile", "--mode", "prime", "--concurrency", str(CONCURRENCY))
    first, passes = drive(stack, *argv), 1
    while min(held := stack.cache_entries()) < stack.persons:
        if passes == PRIME_PASSES:
            raise RuntimeError(f"the serving processes' caches hold {held} bases after {passes} passes, not "
                               f"{stack.persons:,} each")  # fmt: skip
        drive(stack, *argv)
        passes += 1
    return first


def closed_loops(session: Session, stack: ReadStack) -> tuple[Summary, Summary]:
    """Health.Check and GetProfile closed loops, `CONCURRENCY` in flight, in turn (bench.rounds)."""
    warmup, duration, windows = ("0.3", "1", "1") if session.quick else ("0.5", "1.5", "2")
    closed = ["--mode", "closed", "--concurrency", str(CONCURRENCY), "--warmup", warmup, "--duration", duration,
              "--windows", windows]  # fmt: skip
    return in_turn(
        1 if session.quick else ROUNDS, lambda: drive(stack, "--method", "health", *closed),
        lambda: drive(stack, "--method", "profile", *closed),
    )  # fmt: skip


@benchmark("profile.read.throughput", provides=["profile.read.health", "profile.read.getprofile"])
def throughput(session: Session) -> Iterator[Result]:
    """Closed loops, `CONCURRENCY` calls in flight: Health.Check and GetProfile in turn, same server."""
    stack: ReadStack = session.resource("profile-read", read_stack)
    session.step(f"cold reads: every one of {stack.persons:,} persons once (folds and stores the base)")
    cold = primed(stack)
    session.step(f"closed loops: {CONCURRENCY} calls in flight, Health.Check and GetProfile in turn")
    health, reads = closed_loops(session, stack)
    common = {"concurrency": CONCURRENCY, "persons": stack.persons, "events": stack.events}
    yield Result("profile.read.health", health["calls_per_s"], "calls/s", detail={**health, **common})
    detail = {**reads, **common, "cold_read": cold}
    yield Result("profile.read.getprofile", reads["calls_per_s"], "calls/s", baseline="profile.read.health",
                 target=Target(">=", 0.6, on="ratio"), detail=detail)  # fmt: skip


@benchmark(
    "profile.read.latency",
    provides=[
        "profile.read.health_latency_p50", "profile.read.health_latency_p99",
        "profile.read.latency_p50", "profile.read.latency_p99",
    ],
    needs=["profile.read.throughput"],
)  # fmt: skip
def latency(session: Session) -> Iterator[Result]:
    """Open loop at 1,000 calls/s, latency from the scheduled send time: Health.Check (what the
    server, the machine and the load generator allow at that rate), then GetProfile over every person."""
    stack: ReadStack = session.resource("profile-read", read_stack)
    yield from _at_fixed_rate(session, stack, "profile.read.")


def _at_fixed_rate(session: Session, stack: ReadStack, prefix: str) -> Iterator[Result]:
    """Health.Check, then GetProfile, at RATE calls/s: `prefix` + health_latency_p50/_p99, latency_p50/_p99."""
    timing = ["--warmup", "0.3" if session.quick else "1", "--duration", "1.5" if session.quick else "10"]
    for method, name in (("health", f"{prefix}health_latency"), ("profile", f"{prefix}latency")):
        session.step(
            f"open loop: {RATE:,.0f} {METHODS[method].rsplit('/', 1)[1]}/s over {stack.connections} connection(s)"
        )
        summary = drive(stack, "--method", method, "--mode", "open", "--rate", str(RATE), *timing)
        detail = {**summary, "offered_calls_per_s": RATE, "serving_processes": stack.processes}
        health = method == "health"
        yield Result(f"{name}_p50", summary["p50_ms"], "ms", None if health else f"{prefix}health_latency_p50",
                     detail=detail)  # fmt: skip
        yield Result(f"{name}_p99", summary["p99_ms"], "ms", None if health else f"{prefix}health_latency_p99",
                     target=None if health else Target("<=", 10.0), detail=detail)  # fmt: skip


@benchmark(
    "profile.read.two_processes",
    provides=[
        f"profile.read.two_processes_{name}"
        for name in ("health_latency_p50", "health_latency_p99", "latency_p50", "latency_p99")
    ],
    needs=["profile.read.rss_peak"],
)
def two_processes(session: Session) -> Iterator[Result]:
    """(b) again with PROFILE_SERVE_PROCESSES=2, the calls spread over several connections:
    one process serves from one core, and at 1,000/s it is ~75% busy, so its queue sets the p99."""
    stack: ReadStack = session.resource("profile-read", read_stack)
    session.step(f"restarting profile with PROFILE_SERVE_PROCESSES={SCALED_OUT}")
    stack.restart(PROFILE_SERVE_PROCESSES=str(SCALED_OUT))
    session.step("every person read once on every connection: each process keeps its own cache")
    primed(stack)
    yield from _at_fixed_rate(session, stack, "profile.read.two_processes_")


@benchmark("profile.read.rss_peak", needs=["profile.read.latency"])
def rss_peak(session: Session) -> Iterator[Result]:
    """Peak resident memory of the profile process over seeding, folding and every read phase."""
    stack: ReadStack = session.resource("profile-read", read_stack)
    detail = {"samples": stack.rss.samples, "pid": stack.rss.pid}
    yield Result("profile.read.rss_peak", stack.rss.peak_bytes() / 1e6, "MB", detail=detail)


@benchmark(
    "profile.read.uncached",
    provides=["profile.read.uncached_health", "profile.read.uncached_getprofile", "profile.read.uncached_latency_p99"],
    needs=["profile.read.two_processes"],
)  # fmt: skip
def uncached(session: Session) -> Iterator[Result]:
    """The closed loop and GetProfile at 1,000/s again, with the read cache off: each read is
    the stored base's round trip to PostgreSQL (a working set larger than the cache)."""
    stack: ReadStack = session.resource("profile-read", read_stack)
    session.step("restarting profile with PROFILE_READ_CACHE_SIZE=0")
    stack.restart(PROFILE_READ_CACHE_SIZE="0")
    health, reads = closed_loops(session, stack)
    yield Result("profile.read.uncached_health", health["calls_per_s"], "calls/s", detail=health)
    yield Result("profile.read.uncached_getprofile", reads["calls_per_s"], "calls/s",
                 baseline="profile.read.uncached_health", detail=reads)  # fmt: skip
    timing = ["--warmup", "0.3" if session.quick else "1", "--duration", "1.5" if session.quick else "10"]
    session.step(f"open loop: {RATE:,.0f} GetProfile/s from PostgreSQL")
    summary = drive(stack, "--method", "profile", "--mode", "open", "--rate", str(RATE), *timing)
    yield Result("profile.read.uncached_latency_p99", summary["p99_ms"], "ms", "profile.read.latency_p99",
                 detail={**summary, "offered_calls_per_s": RATE})  # fmt: skip


# The load generator (its own OS process): requests are bytes serialized once, replies are not parsed.
Stub = grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]


class Rpc:
    """One method's calls dealt round-robin over `connections` connections of their own. A
    server of several processes (SO_REUSEPORT) serves each connection from one process, so
    a single connection would reach one of them. Every call carries the operator's token,
    Health.Check's too (it is open, but its calls then cost the same bytes to receive), as
    metadata of the call: an interceptor (bullseye_platform.grpc.client) would add the load
    generator's own CPU to the machine both share."""

    def __init__(self, address: str, method: str, connections: int, operator: TokenMinter) -> None:
        options = [("grpc.use_local_subchannel_pool", 1)]  # a connection per channel, not a shared one
        self.channels = [grpc.aio.insecure_channel(address, options=options) for _ in range(connections)]
        self.stubs = [c.unary_unary(method, request_serializer=None, response_deserializer=None) for c in self.channels]
        self._next = itertools.cycle(self.stubs)
        self._operator = operator

    def __call__(self, request: bytes, *, timeout: float) -> Awaitable[bytes]:
        return self.via(next(self._next), request, timeout=timeout)

    def via(self, stub: Stub, request: bytes, *, timeout: float) -> Awaitable[bytes]:
        """The call on one given connection."""
        return stub(request, timeout=timeout, metadata=self._operator.metadata())

    async def close(self) -> None:
        await asyncio.gather(*(channel.close(None) for channel in self.channels))


def requests(method: str, persons: int) -> list[bytes]:
    if method == "health":
        return [b""]  # HealthCheckRequest(service=""): the server as a whole
    return [pb.GetProfileRequest(person_id=person_id(n)).SerializeToString() for n in range(persons)]


@dataclass
class Answered:
    """Every call answered, warm-up included (the service's CPU time is divided by it), and
    the status codes of the failed ones."""

    calls: int = 0
    failed: Counter[str] = field(default_factory=Counter)


ANSWERED = Answered()  # one per load generator process


async def _one(rpc: Callable[..., Awaitable[bytes]], request: bytes) -> bool:
    try:
        await rpc(request, timeout=30.0)
        ANSWERED.calls += 1
        return True
    except grpc.aio.AioRpcError as exc:
        ANSWERED.failed[exc.code().name] += 1
        return False


async def prime(rpc: Rpc, bodies: Sequence[bytes], concurrency: int) -> Tally:
    """Each request once on every connection (each serving process has a cache of its own),
    `concurrency` at a time."""
    tally, queue = Tally(), [(stub, body) for body in reversed(bodies) for stub in rpc.stubs]

    async def worker() -> None:
        while queue:
            sent = time.perf_counter()
            stub, body = queue.pop()
            ok = await _one(functools.partial(rpc.via, stub), body)
            tally.add(1 if ok else None, time.perf_counter() - sent)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


async def closed_loop(rpc: Rpc, bodies: Sequence[bytes], args: argparse.Namespace) -> list[Tally]:
    """One tally per window; the best window is the figure (as in loadgen.closed_loop)."""
    windows = [Tally() for _ in range(args.windows)]
    start = time.perf_counter() + args.warmup
    end = start + args.duration * args.windows
    order = random.Random(SEED)

    async def worker() -> None:
        while time.perf_counter() < end:
            sent = time.perf_counter()
            ok = await _one(rpc, order.choice(bodies))
            done = time.perf_counter()
            if start <= done < end:
                windows[int((done - start) // args.duration)].add(1 if ok else None, done - sent)

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return windows


async def open_loop(rpc: Rpc, bodies: Sequence[bytes], args: argparse.Namespace) -> list[Tally]:
    """Calls on a fixed schedule; latency from the scheduled send time (no coordinated omission)."""
    tally, order = Tally(), random.Random(SEED)
    interval = 1.0 / args.rate
    total = math.ceil((args.warmup + args.duration) / interval)
    picks = [order.choice(bodies) for _ in range(total)]
    origin = time.perf_counter() + 0.1
    measured_from = origin + args.warmup

    async def one(number: int, scheduled: float) -> None:
        ok = await _one(rpc, picks[number])
        if scheduled >= measured_from:
            tally.add(1 if ok else None, time.perf_counter() - scheduled)

    await paced(origin, interval, total, one)
    return [tally]


def summary(windows: list[Tally], args: argparse.Namespace) -> dict[str, object]:
    ordered = sorted(s * 1000 for w in windows for s in w.latencies)
    rates = [w.calls / args.duration for w in windows]
    return {
        "mode": args.mode,
        "method": args.method,
        "calls": sum(w.calls for w in windows),
        "calls_total": ANSWERED.calls,
        "error_codes": dict(ANSWERED.failed),
        "errors": sum(w.errors for w in windows),
        "window_calls_per_s": [round(r, 1) for r in rates],
        "calls_per_s": max(rates),
        "p50_ms": percentile(ordered, 50),
        "p99_ms": percentile(ordered, 99),
        "max_ms": ordered[-1] if ordered else math.nan,
    }


async def run(args: argparse.Namespace) -> dict[str, object]:
    bodies = requests(args.method, args.persons)
    return await drive_calls(Rpc(args.address, METHODS[args.method], args.connections,
                                 operator_credentials(os.environ)), bodies, args)  # fmt: skip


async def drive_calls(rpc: Rpc, bodies: Sequence[bytes], args: argparse.Namespace) -> dict[str, object]:
    """The calls `args.mode` asks for (prime, closed or open loop), then the summary; closes `rpc`.
    Shared by the read benchmarks' load generators (profile's, recommendation's)."""
    try:
        for _ in rpc.channels:
            await _one(rpc, bodies[0])  # every connection made before the clock starts
        settle_heap()  # the generator's own collections must not pause its calls (loadgen.paced)
        if args.mode == "prime":
            started = time.perf_counter()
            tally = await prime(rpc, bodies, args.concurrency)
            args.duration = time.perf_counter() - started
            return summary([tally], args)
        drive_loop = closed_loop if args.mode == "closed" else open_loop
        windows = await drive_loop(rpc, bodies, args)
        return summary(windows, args)
    finally:
        await rpc.close()


def load_arguments(parser: argparse.ArgumentParser, methods: Iterable[str], default: str) -> None:
    """What every read load generator takes (`drive` reads them)."""
    parser.add_argument("--address", required=True)
    parser.add_argument("--method", choices=sorted(methods), default=default)
    parser.add_argument("--mode", choices=["prime", "closed", "open"], default="closed")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="calls in flight (closed, prime)")
    parser.add_argument("--connections", type=int, default=1, help="connections the calls are dealt over")
    parser.add_argument("--rate", type=float, default=RATE, help="offered calls/s (open)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not measured")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured (per window)")
    parser.add_argument("--windows", type=int, default=1, help="measured windows; the best one counts (closed)")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bullseye-bench-profile-read", description=__doc__.split("\n")[0])
    load_arguments(parser, METHODS, "profile")
    parser.add_argument("--persons", type=int, required=True, help="persons bench-person-000000.. to read")
    return parser.parse_args(argv)


def print_summary(
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, object]]], args: argparse.Namespace
) -> int:
    """A load generator's process: its summary as one JSON line on stdout. asyncio, not
    uvloop: uvloop's timers tick in whole milliseconds, which at 1,000 calls/s clumped the
    schedule (Health.Check p99 6 -> 19 ms, measured)."""
    print(json.dumps(asyncio.run(run(args))))
    return 0


def main(argv: list[str] | None = None) -> int:
    return print_summary(run, parse(argv))


if __name__ == "__main__":
    raise SystemExit(main())
