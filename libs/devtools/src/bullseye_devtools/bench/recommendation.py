"""Recommendation on MovieLens-1M, measured through the service (bench/recommendation_stack.py).

- `recommendation.train`: the service's `train` command on the folded projection (the
  blend: validation fit, weights chosen, refit, evaluation), published; its wall time, the
  model's size, and what scoring the file costs in a fresh process (`model.probe`);
- `recommendation.quality`: every user's held-out item among their de-duplicated candidates,
  ranked by the Recommend RPC (`candidate_item_ids`, k = 10): HR@10 and NDCG@10 for the
  default placement (the model alone) and for the product page (the spec's hybrid), and the
  `implicit` ALS peer on the same files (the file trainer's `--peers-only`);
- `recommendation.read`: every user asked once (the process ranks and keeps each answer),
  then Recommend beside the no-op Health.Check on the same server, closed loops in turn
  (bench/rounds.py, with the server's CPU per call) and at 1,000 calls/s (load generator in
  its own process, bench/recommendation_read.py); the share of answers the ranking cache
  gave is in the details;
- `recommendation.rss_peak`: the serving process with the ML-1M model, up to here (the
  projection process, which folded MovieLens, in the details);
- `recommendation.swap`: PublishModel of another version to Recommend answering with it,
  with calls going on meanwhile (none may fail);
- `recommendation.read.uncached`: the reads again with the ranking cache off (every call
  reads the person and runs the model), the open loop at half the closed loop's rate.

Skipped with a message where ../shared/data holds no MovieLens (never copied: its licence).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye.recommendation.v1 import recommendation_pb2_grpc as pb_grpc

from bullseye_devtools.bench import movielens, rounds
from bullseye_devtools.bench.cpu_meters import CpuMeters
from bullseye_devtools.bench.recommendation_stack import RecoStack, reco_stack
from bullseye_devtools.bench.registry import Result, Session, Target, benchmark
from bullseye_devtools.bench.rounds import Summary

PROBE_HISTORY = 50  # items of history per probe call: a loyal shopper's recent items
PLACEMENTS = {"default": "", "hybrid": "product-page"}  # the blend each placement really uses (service config)
IN_FLIGHT = 8
ROUNDS = 5  # closed loops of each method, in turn (bench.rounds): a neighbour's burst touches both alike
RATE = 1000.0


def _stack(session: Session) -> RecoStack | None:
    if not session.quick and not movielens.available():
        session.step(f"recommendation skipped: {movielens.DATA} is absent (see ../shared/data; never copied here)")
        return None
    stack: RecoStack = session.resource("recommendation", reco_stack)
    return stack


def _run(*argv: str) -> str:
    done = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


@benchmark(
    "recommendation.train",
    provides=("recommendation.train.seconds", "recommendation.model.megabytes", "recommendation.model.call_p50",
              "recommendation.model.call_p99"),
)  # fmt: skip
def trained(session: Session) -> Iterator[Result]:
    stack = _stack(session)
    if stack is None:
        return
    session.step("training the blend on the projection (the service's train command), then publishing it")
    started = time.perf_counter()
    outcome = json.loads(stack.command("train", "--publish").strip().splitlines()[-1])
    seconds = time.perf_counter() - started
    asyncio.run(stack.serving(outcome["version"]))
    stack.version = outcome["version"]
    folder = Path(stack.env["RECOMMENDATION_MODEL_DIR"]) / outcome["version"]
    document = json.loads((folder / "metadata.json").read_text())
    yield Result(
        "recommendation.train.seconds",
        seconds,
        "s",
        target=Target("<=", 300),
        detail={
            "cpu_seconds": document["training"]["cpu_seconds"],
            "validation": outcome["metrics"],
            "blend": {k: document["training"].get(k) for k in ("taste", "mass")},
            "covers": "projection read, validation fit, blend choice, refit, export, registration",
        },
    )
    yield Result("recommendation.model.megabytes", document["bytes"] / 1e6, "MB")
    yield from _probe(session, folder)


def _probe(session: Session, folder: Path) -> Iterator[Result]:
    calls = "200" if session.quick else "5000"
    probe: dict[str, Any] = json.loads(_run("bullseye_recommendation.model.probe", str(folder), "--length",
                                            str(PROBE_HISTORY), "--calls", calls))  # fmt: skip
    top = probe["top_k"]
    shape = {
        "history": probe["history_length"],
        "k": top["k"],
        "threads": 1,
        "calls": top["calls"],
        "candidates_100_p50_ms": probe["candidates_100"]["p50_ms"],
        "probe_rss_mb_peak": probe["rss_mb_peak"],
    }
    yield Result("recommendation.model.call_p50", top["p50_ms"], "ms", target=Target("<=", 1.0), detail=shape)
    yield Result("recommendation.model.call_p99", top["p99_ms"], "ms", detail=shape)


@benchmark(
    "recommendation.quality",
    provides=("recommendation.quality.hr_at_10", "recommendation.quality.ndcg_at_10",
              "recommendation.quality.hybrid_hr_at_10", "recommendation.quality.hybrid_ndcg_at_10",
              "recommendation.quality.als_hr_at_10"),
    needs=("recommendation.train",),
)  # fmt: skip
def quality(session: Session) -> Iterator[Result]:
    stack = _stack(session)
    if stack is None:
        return
    measured = {}
    for name, placement in PLACEMENTS.items():
        session.step(f"ranking every user's candidates through Recommend, placement {placement or 'default'!r}")
        measured[name] = asyncio.run(_evaluate(stack, placement))
    served, hybrid = measured["default"], measured["hybrid"]
    detail = {"cases": len(stack.data.cases), "placement": "default (collaborative:1, the model alone)",
              "protocol": "unique(99 NCF negatives) + the held-out item, ranked by Recommend, k = 10",
              "hybrid": hybrid}  # fmt: skip
    yield Result("recommendation.quality.hr_at_10", served["hr_at_10"], "ratio", target=Target(">=", 0.80),
                 detail={**detail, **served})  # fmt: skip
    yield Result("recommendation.quality.ndcg_at_10", served["ndcg_at_10"], "ratio", target=Target(">=", 0.55))
    yield Result(
        "recommendation.quality.hybrid_hr_at_10",
        hybrid["hr_at_10"],
        "ratio",
        detail={"placement": "product-page: collaborative 0.4, content 0.3, popular 0.15, session 0.15"},
    )
    yield Result("recommendation.quality.hybrid_ndcg_at_10", hybrid["ndcg_at_10"], "ratio")
    yield from _als(session)


async def _evaluate(stack: RecoStack, placement: str) -> dict[str, float]:
    """HR@10 and NDCG@10 of the held-out items, IN_FLIGHT calls at a time."""
    cases = list(stack.data.cases)
    gains: list[float] = []
    failures: list[str] = []

    async def worker(channel: grpc.aio.Channel) -> None:
        while cases:
            case = cases.pop()
            request = pb.RecommendRequest(
                person_id=movielens.person(case.user), k=10, context=pb.Context(placement=placement),
                candidate_item_ids=[movielens.item(c) for c in case.candidates],
            )  # fmt: skip
            try:
                reply = await stack.recommend(channel, request)
            except grpc.aio.AioRpcError as error:
                failures.append(error.code().name)
                continue
            ranked = [item.item_id for item in reply.items]
            target = movielens.item(case.target)
            gains.append(1 / np.log2(ranked.index(target) + 2) if target in ranked else 0.0)

    async with grpc.aio.insecure_channel(stack.service.address) as channel:
        await asyncio.gather(*(worker(channel) for _ in range(IN_FLIGHT)))
    if failures:
        raise RuntimeError(f"{len(failures)} Recommend calls failed: {sorted(set(failures))}")
    hits = np.array(gains) > 0
    return {"hr_at_10": float(hits.mean()), "ndcg_at_10": float(np.mean(gains)), "cases": len(gains)}


def _als(session: Session) -> Iterator[Result]:
    if session.quick:
        return
    report = session.workdir / "recommendation-peers.json"
    session.step("the implicit ALS peer on the same files (the file trainer's --peers-only)")
    _run("bullseye_recommendation.train", "--ml1m", str(movielens.DATA), "--peers-only",
         "--report", str(report))  # fmt: skip
    rows = {row["family"]: row for row in json.loads(report.read_text())["families"]}
    als = rows.get("als (implicit)")
    if als is not None:
        yield Result("recommendation.quality.als_hr_at_10", als["hr_at_10"], "ratio",
                     detail={"ndcg_at_10": als["ndcg_at_10"], "fit_seconds": als["fit_seconds"],
                             "popularity": rows.get("popularity")})  # fmt: skip


def _drive(stack: RecoStack, *args: str) -> Summary:
    """The load generator in its own process against the serving process (bench.rounds.drive),
    and the CPU the stack's other processes spent per call meanwhile: on this machine's two
    cores, the fold of Recommend's impressions takes its share beside the serving process."""
    argv = [sys.executable, "-m", "bullseye_devtools.bench.recommendation_read", "--address", stack.service.address,
            "--users", str(len(stack.data.histories)), *args]  # fmt: skip
    meters = CpuMeters(stack.background)
    summary = rounds.drive(stack, argv, {**os.environ, **stack.env, "BULLSEYE_OPERATOR_KEY": stack.operator_key})
    spent = sum(meters.seconds().values())
    summary["background_cpu_us_per_call"] = round(spent / max(summary["calls_total"], 1) * 1e6, 1)
    return summary


def _closed(session: Session) -> list[str]:
    return ["--mode", "closed", "--concurrency", str(IN_FLIGHT), "--warmup", "0.3" if session.quick else "0.5",
            "--duration", "1" if session.quick else "1.5", "--windows", "1" if session.quick else "2"]  # fmt: skip


def _closed_loops(session: Session, stack: RecoStack) -> tuple[Summary, Summary]:
    """Health.Check and Recommend closed loops, `IN_FLIGHT` calls in flight, in turn (bench.rounds)."""
    closed = _closed(session)
    return rounds.in_turn(
        1 if session.quick else ROUNDS, lambda: _drive(stack, "--method", "health", *closed),
        lambda: _drive(stack, "--method", "recommend", *closed),
    )  # fmt: skip


def _open(session: Session) -> list[str]:
    return ["--mode", "open", "--rate", str(RATE), "--warmup", "0.3" if session.quick else "1",
            "--duration", "1.5" if session.quick else "10"]  # fmt: skip


@benchmark(
    "recommendation.read",
    provides=("recommendation.read.health", "recommendation.read.recommend", "recommendation.read.health_latency_p99",
              "recommendation.read.latency_p50", "recommendation.read.latency_p99"),
    needs=("recommendation.quality",),
)  # fmt: skip
def read(session: Session) -> Iterator[Result]:
    stack = _stack(session)
    if stack is None:
        return
    session.step(f"every one of {len(stack.data.histories):,} users once (the process ranks and keeps each answer)")
    primed = _drive(stack, "--method", "recommend", "--mode", "prime", "--concurrency", str(IN_FLIGHT))
    session.step(f"closed loops, {IN_FLIGHT} in flight: Health.Check and Recommend (k = 10, whole catalog) in turn")
    health, calls = _closed_loops(session, stack)
    yield Result("recommendation.read.health", health["calls_per_s"], "calls/s", detail=health)
    yield Result("recommendation.read.recommend", calls["calls_per_s"], "calls/s",
                 baseline="recommendation.read.health", target=Target(">=", 0.7, on="ratio"),
                 detail={**calls, "primed": primed})  # fmt: skip
    session.step(f"open loop at {RATE:,.0f} calls/s: Health.Check, then Recommend")
    health = _drive(stack, "--method", "health", *_open(session))
    calls = _drive(stack, "--method", "recommend", *_open(session))
    yield Result("recommendation.read.health_latency_p99", health["p99_ms"], "ms", detail=health)
    yield Result("recommendation.read.latency_p50", calls["p50_ms"], "ms", detail=calls)
    beside = "recommendation.read.health_latency_p99"
    yield Result("recommendation.read.latency_p99", calls["p99_ms"], "ms", baseline=beside,
                 target=Target("<=", 10.0), detail=calls)  # fmt: skip


@benchmark("recommendation.rss_peak", needs=("recommendation.read",))
def rss_peak(session: Session) -> Iterator[Result]:
    """Peak resident memory of the serving process: the model, its snapshot, every read phase."""
    stack = _stack(session)
    if stack is None:
        return
    yield Result("recommendation.rss_peak", stack.rss.peak_bytes() / 1e6, "MB", target=Target("<=", 300),
                 detail={"samples": stack.rss.samples, "load_seconds": stack.seconds,
                         "projection_rss_peak_mb": stack.projection_rss.peak_bytes() / 1e6})  # fmt: skip


@benchmark("recommendation.swap", provides=("recommendation.swap.seconds",), needs=("recommendation.rss_peak",))
def swap(session: Session) -> Iterator[Result]:
    """PublishModel of another registered version, to the first answer with it, under calls."""
    stack = _stack(session)
    if stack is None:
        return
    storage = Path(stack.env["RECOMMENDATION_MODEL_DIR"])
    again = f"{stack.version}-again"
    shutil.copytree(storage / stack.version, storage / again)
    stack.command("register", again)
    session.step(f"publishing {again} while Recommend is called")
    seconds, failures = asyncio.run(_swap(stack, again))
    yield Result(
        "recommendation.swap.seconds",
        seconds,
        "s",
        detail={
            "failed_calls": failures,
            "rss_peak_mb_with_two_models": stack.rss.peak_bytes() / 1e6,
            "covers": "PublishModel, outbox relay, RECO, load and checksum, swap, first answer",
        },
    )


async def _swap(stack: RecoStack, version: str) -> tuple[float, int]:
    failures = 0
    done = asyncio.Event()

    async def load() -> None:
        nonlocal failures
        async with grpc.aio.insecure_channel(stack.service.address) as channel:
            while not done.is_set():
                try:
                    await stack.recommend(channel, pb.RecommendRequest(person_id=movielens.person(1), k=10))
                except grpc.aio.AioRpcError:
                    failures += 1

    callers = [asyncio.create_task(load()) for _ in range(4)]
    started = time.perf_counter()
    async with grpc.aio.insecure_channel(stack.service.address) as channel:
        api = pb_grpc.RecommendationServiceStub(channel)
        await api.PublishModel(pb.PublishModelRequest(version=version, force=True, reason="swap benchmark"),
                               metadata=stack.operator.metadata())  # fmt: skip
        await stack.serving(version)
    seconds = time.perf_counter() - started
    done.set()
    await asyncio.gather(*callers)
    return seconds, failures


@benchmark(
    "recommendation.read.uncached",
    provides=("recommendation.read.uncached_health", "recommendation.read.uncached_recommend",
              "recommendation.read.uncached_latency_p99"),
    needs=("recommendation.swap",),
)  # fmt: skip
def uncached(session: Session) -> Iterator[Result]:
    """The reads again with the ranking cache off: every call reads the person and runs the model."""
    stack = _stack(session)
    if stack is None:
        return
    session.step("restarting recommendation with RECOMMENDATION_ANSWER_CACHE_SIZE=0")
    stack.restart(RECOMMENDATION_ANSWER_CACHE_SIZE="0")
    health, calls = _closed_loops(session, stack)
    yield Result("recommendation.read.uncached_health", health["calls_per_s"], "calls/s", detail=health)
    yield Result("recommendation.read.uncached_recommend", calls["calls_per_s"], "calls/s",
                 baseline="recommendation.read.uncached_health", detail=calls)  # fmt: skip
    rate = max(1.0, round(calls["calls_per_s"] / 2))  # at 1,000/s it would only measure a queue
    session.step(f"open loop at {rate:,.0f} Recommend/s (half the closed loop's), each ranked anew")
    timed = _drive(stack, "--method", "recommend", *_open(session), "--rate", str(rate))
    yield Result("recommendation.read.uncached_latency_p99", timed["p99_ms"], "ms", detail={**timed, "rate": rate})
