"""The recommendation benchmarks' stack: PostgreSQL, a strict nats-server, MovieLens-1M in RESOLVED
and CATALOG (bench/movielens.py), and recommendation as its chart deploys it: a projection
process that folds the streams and relays the outbox (`RECOMMENDATION_PROJECTION=true`), and a
serving process that serves (`false`), started once the projection has folded everything.

Served from the folding process, Recommend's p99 at 1,000 calls/s was 7.7-19.4 ms where the
same process without folding its impressions back from RECO gave 5.0-7.2 ms (Health.Check
3.1-5.9 ms beside, 2026-12-07, README): each fold of ~500 impressions holds the event loop for
a few milliseconds twice a second, and the calls that arrive meanwhile make the tail. The
machine's CPU was the same (0.91-1.00 cores): it is where the work runs, not how much.

`--quick` loads a small generated shop instead (figures meaningless). The serving process's
RSS is sampled from its start (the model, its snapshot, every read phase); the projection
process's peak is in the details. RECOMMENDATION_* variables of the benchmark's own
environment reach both processes (to measure another setting, e.g.
RECOMMENDATION_HISTORY_LENGTH).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import psutil
from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye.recommendation.v1 import recommendation_pb2_grpc as pb_grpc
from bullseye_platform.auth import TokenMinter
from bullseye_platform.auth.operator import operator_credentials
from bullseye_platform.eventlog import LogMessage, LogWriter, StreamSpec, connect, ensure_stream

from bullseye_devtools.bench import movielens
from bullseye_devtools.bench.registry import Session
from bullseye_devtools.bench.rss import RssSampler
from bullseye_devtools.bench.servers import folded, strict_servers
from bullseye_devtools.stack import secrets as stack_secrets
from bullseye_devtools.stack.metrics import by_label, scrape
from bullseye_devtools.stack.services import ServiceProcess

APPEND = 1000  # records per atomic append (the server's limit)
STREAMS = (StreamSpec(name="RESOLVED", subject_prefix="resolved"), StreamSpec(name="CATALOG", subject_prefix="catalog"))


@dataclass
class RecoStack:
    service: ServiceProcess  # the serving process
    rss: RssSampler  # the serving process's
    projection_rss: RssSampler
    data: movielens.MovieLens
    operator: TokenMinter
    operator_key: str  # what the load generator signs its calls with
    dsn: str
    # The processes that work for the calls off their path (name -> pid): the projection folds
    # the impressions Recommend records, into PostgreSQL, through nats-server.
    background: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)  # how long loading and folding took
    version: str = ""  # the model the train benchmark published

    @property
    def env(self) -> dict[str, str]:
        return dict(self.service.env)

    def command(self, *argv: str) -> str:
        """A command of the service (`train`, `register`) with its environment; its stdout.

        Raises:
            RuntimeError: the command failed; its stderr is in the message.
        """
        done = subprocess.run([sys.executable, "-m", "bullseye_recommendation", *argv], capture_output=True,
                              text=True, env={**os.environ, **self.env})  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
        return done.stdout

    def restart(self, **env: str) -> None:
        """The process again on the same database and streams, with `env` added (the sampler
        keeps watching the first process's pid: take the RSS peak before a restart)."""
        self.service.stop()
        self.service = _start("recommendation", {**self.env, **env}, self.service.log_dir)

    def cpu_seconds(self) -> float:
        """CPU time of the serving process so far."""
        assert self.service.proc is not None
        times = psutil.Process(self.service.proc.pid).cpu_times()
        return float(times.user + times.system)

    def cache_lookups(self) -> dict[str, float]:
        """Rankings the process's cache answered ("hit") or passed on ("miss") so far."""
        assert self.service.reported is not None
        text = scrape(f"http://127.0.0.1:{self.service.reported.metrics_ports[0]}/metrics")
        return by_label(text, "recommendation_answer_cache_lookups_total", "result")

    async def recommend(self, channel: grpc.aio.Channel, request: pb.RecommendRequest) -> pb.RecommendResponse:
        reply: pb.RecommendResponse = await pb_grpc.RecommendationServiceStub(channel).Recommend(
            request, metadata=self.operator.metadata(), timeout=30
        )
        return reply

    async def serving(self, version: str, *, within: float = 120.0) -> float:
        """Seconds until Recommend answers with `version` (looking every 5 ms)."""
        started = time.perf_counter()
        async with grpc.aio.insecure_channel(self.service.address) as channel:
            while time.perf_counter() - started < within:
                reply = await self.recommend(channel, pb.RecommendRequest(person_id=movielens.person(0), k=1))
                if reply.model_version == version:
                    return time.perf_counter() - started
                await asyncio.sleep(0.005)
        raise TimeoutError(f"the service did not serve {version} within {within:.0f}s")


async def _append(nats_url: str, *streams: Iterable[LogMessage]) -> None:
    """Each stream's messages in atomic appends of APPEND (an atomic batch is one stream's)."""
    nc = await connect(nats_url, name="bench-recommendation-load")
    writer = LogWriter(nc)
    try:
        for spec in STREAMS:
            await ensure_stream(nc.jetstream(), spec)
        for messages in streams:
            chunk: list[LogMessage] = []
            for message in messages:
                chunk.append(message)
                if len(chunk) == APPEND:
                    await writer.append(chunk)
                    chunk = []
            if chunk:
                await writer.append(chunk)
    finally:
        await writer.close()
        await nc.drain()


def _data(session: Session) -> movielens.MovieLens:
    return movielens.generated() if session.quick else movielens.read()


@contextlib.contextmanager
def reco_stack(session: Session) -> Iterator[RecoStack]:
    root = session.workdir / "recommendation"
    data = _data(session)
    with contextlib.ExitStack() as stack:
        postgres, nats = strict_servers(session, root, stack)
        keys = stack_secrets.generate_auth()
        env = {"NATS_URL": nats.url, "DATABASE_URL": postgres.dsn, "RECOMMENDATION_METRICS_PORT": "0",
               "RECOMMENDATION_MODEL_DIR": str(root / "models"), "RECOMMENDATION_SPOOL_DIR": str(root / "spool"),
               **stack_secrets.for_service(keys, "recommendation"),
               **{k: v for k, v in os.environ.items() if k.startswith("RECOMMENDATION_")}}  # fmt: skip
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        session.step(f"loading {len(data.movies):,} movies and {data.interactions:,} views into CATALOG and RESOLVED")
        asyncio.run(_append(nats.url, movielens.catalog_messages(data), movielens.resolved_messages(data)))
        seconds["load"] = time.perf_counter() - started
        session.step("starting recommendation's projection; waiting until it has folded every view")
        projection = _start("recommendation-projection", {**env, "RECOMMENDATION_PROJECTION": "true"}, root / "logs")
        stack.callback(projection.stop)
        projection_rss = _sampled(stack, projection)
        started = time.perf_counter()
        asyncio.run(folded(postgres.dsn, "recommendation", "interactions", data.interactions, within=3600))
        seconds["fold"] = time.perf_counter() - started
        session.step("starting recommendation's serving process")
        service = _start("recommendation", {**env, "RECOMMENDATION_PROJECTION": "false"}, root / "logs")
        rss = _sampled(stack, service)
        key = keys[stack_secrets.OPERATOR_KEY]
        operator = operator_credentials({stack_secrets.OPERATOR_KEY: key})
        assert projection.proc is not None and nats.proc is not None
        background = {"projection": projection.proc.pid, "postgres": postgres.postmaster_pid(),
                      "nats": nats.proc.pid}  # fmt: skip
        reco = RecoStack(service, rss, projection_rss, data, operator, key, postgres.dsn, background, seconds)
        stack.callback(lambda: reco.service.stop())  # the process in place at the end (see restart)
        yield reco


def _start(name: str, env: dict[str, str], log_dir: Path) -> ServiceProcess:
    return ServiceProcess(name, "bullseye_recommendation", env, log_dir).start()


def _sampled(stack: contextlib.ExitStack, process: ServiceProcess) -> RssSampler:
    assert process.proc is not None
    sampler = RssSampler(process.proc.pid).start()
    stack.callback(sampler.stop)
    return sampler
