"""Ingestion as deployed on one node: PostgreSQL, a strict (fsync-always) nats-server and
the real service process, driven by a load generator in another OS process."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from bullseye_devtools.bench.events import BATCH
from bullseye_devtools.bench.registry import Result, Session, Target, benchmark
from bullseye_devtools.bench.rss import RssSampler
from bullseye_devtools.bench.servers import strict_servers
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack import secrets as stack_secrets
from bullseye_devtools.stack.services import ServiceProcess

CONCURRENCY = 16
TUNING = {"INGESTION_PUBLISH_BATCH": "500", "INGESTION_PUBLISH_IN_FLIGHT": "4"}  # the service's defaults


@dataclass
class IngestStack:
    service: ServiceProcess
    nats: NatsServer
    key: str
    rss: RssSampler
    env: dict[str, str]

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by the service and by nats-server."""
        procs = {"service": self.service.proc, "nats_server": self.nats.proc}
        return {name: _cpu(proc.pid) for name, proc in procs.items() if proc is not None}


def _cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def create_key(env: dict[str, str]) -> str:
    """A key whose rate limit never throttles the benchmark, made with the real CLI."""
    argv = ["create", "--source", "bench", "--rate", "1000000", "--burst", "1000000"]
    done = subprocess.run(
        [sys.executable, "-m", "bullseye_ingestion", "keys", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def service_env(nats: NatsServer, postgres: PostgresServer) -> dict[str, str]:
    """Production defaults, authentication on; INGESTION_* tuning set in the caller's environment wins."""
    keys = stack_secrets.for_service(stack_secrets.generate_auth(), "ingestion")
    base = {"NATS_URL": nats.url, "DATABASE_URL": postgres.dsn, "BULLSEYE_DURABILITY": "strict", **keys, **TUNING}
    return {**base, **{k: v for k, v in os.environ.items() if k.startswith("INGESTION_")}}


@contextlib.contextmanager
def ingest_stack(session: Session) -> Iterator[IngestStack]:
    root = session.workdir / "ingest"
    with contextlib.ExitStack() as stack:
        postgres, nats = strict_servers(session, root, stack)
        env = service_env(nats, postgres)
        key = create_key(env)
        session.step("starting the ingestion service")
        service = ServiceProcess("ingestion", "bullseye_ingestion", env, root / "logs").start()
        stack.callback(service.stop)
        assert service.proc is not None
        rss = RssSampler(service.proc.pid).start()
        stack.callback(rss.stop)
        yield IngestStack(service, nats, key, rss, env)


def drive(session: Session, stack: IngestStack, *args: str) -> dict[str, float]:
    """Run the load generator in its own process; its JSON summary."""
    argv = [sys.executable, "-m", "bullseye_devtools.bench.loadgen", "--address", stack.service.address]
    done = subprocess.run([*argv, "--key", stack.key, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr[-2000:]}\n{tail(stack.service.log_path)}")
    summary: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if summary["errors"]:
        session.step(f"warning: {summary['errors']:.0f} calls failed; see {stack.service.log_path}")
    return summary


def tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def phase(session: Session, full: float, quick: float) -> str:
    return str(quick if session.quick else full)


@benchmark("ingest.trackbatch.throughput", needs=["nats.publish_async"])
def throughput(session: Session) -> Iterator[Result]:
    """Closed loop, `CONCURRENCY` calls of `BATCH` events in flight: the most it sustains.

    CPU time per event (service, nats-server) is noted too: it varies far less than
    throughput on a shared machine, so it is the figure to compare optimizations by.
    """
    stack: IngestStack = session.resource("ingest", ingest_stack)
    windows = "1" if session.quick else "3"
    session.step(f"closed loop: {CONCURRENCY} calls of {BATCH} events in flight, best of {windows} windows")
    timing = ["--warmup", phase(session, 1.0, 0.3), "--duration", phase(session, 3.0, 1.0), "--windows", windows]
    before = stack.cpu_seconds()
    summary = drive(session, stack, "--mode", "closed", "--concurrency", str(CONCURRENCY), *timing)
    used = {k: v - before[k] for k, v in stack.cpu_seconds().items()}
    per_event = {k: round(v / max(summary["events_total"], 1) * 1e6, 1) for k, v in used.items()}
    session.step(f"CPU per event (us): {per_event}")
    detail = {**summary, "batch": BATCH, "concurrency": CONCURRENCY, "service_env": _tuning(stack)}
    detail["cpu_us_per_event"] = per_event
    yield Result(
        "ingest.trackbatch.throughput",
        summary["events_per_s"],
        "events/s",
        baseline="nats.publish_async",
        target=Target(">=", 0.7, on="ratio"),
        detail=detail,
    )


@benchmark(
    "ingest.trackbatch.latency",
    provides=["ingest.trackbatch.latency_p50", "ingest.trackbatch.latency_p99"],
    needs=["ingest.trackbatch.throughput", "nats.atomic_batch.latency"],
)
def latency(session: Session) -> Iterator[Result]:
    """Open loop at half the measured maximum: latency under a load it can sustain."""
    stack: IngestStack = session.resource("ingest", ingest_stack)
    rate = session.value("ingest.trackbatch.throughput") / 2
    session.step(f"open loop: {rate:,.0f} events/s offered in batches of {BATCH}")
    timing = ["--warmup", phase(session, 1.0, 0.2), "--duration", phase(session, 10.0, 1.5)]
    summary = drive(session, stack, "--mode", "open", "--rate", f"{rate:.1f}", *timing)
    detail = {**summary, "offered_events_per_s": rate, "batch": BATCH}
    # Baselines: the same-size atomic batch straight to the strict server, one at a time.
    yield Result(
        "ingest.trackbatch.latency_p50",
        summary["p50_ms"],
        "ms",
        baseline="nats.atomic_batch.latency_p50",
        detail=detail,
    )
    yield Result(
        "ingest.trackbatch.latency_p99",
        summary["p99_ms"],
        "ms",
        baseline="nats.atomic_batch.latency_p99",
        target=Target("<=", 25.0),
        detail=detail,
    )


@benchmark("ingest.rss_peak", needs=["ingest.trackbatch.latency"])
def rss_peak(session: Session) -> Iterator[Result]:
    """Peak resident memory of the service process over every phase above."""
    stack: IngestStack = session.resource("ingest", ingest_stack)
    peak = stack.rss.peak_bytes()
    detail = {"samples": stack.rss.samples, "pid": stack.rss.pid}
    yield Result("ingest.rss_peak", peak / 1e6, "MB", target=Target("<=", 150.0), detail=detail)


def _tuning(stack: IngestStack) -> dict[str, str]:
    return {k: v for k, v in stack.env.items() if k.startswith("INGESTION_")}
