"""`python -m bullseye_devtools.bench.loadgen`: drives TrackBatch from its own OS process.

On a 2-core machine the client must not steal the service's CPU: requests are spliced
bytes (no protobuf building), sent through a generic unary-unary call with no
serializers, and only the response's counters are read. Prints one JSON object.

closed: `concurrency` calls always in flight, as fast as the service answers; the best of
`windows` consecutive windows counts.
open: batches sent on a fixed schedule; latency runs from the *scheduled* send time, so
a slow answer delays nothing else and is not hidden (no coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import grpc
import uvloop
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye_platform.service import settle_heap

from bullseye_devtools.bench.events import RequestFactory

METHOD = "/bullseye.ingestion.v1.IngestionService/TrackBatch"
Call = Callable[[bytes], Awaitable[int]]


@dataclass
class Tally:
    """Calls that finished inside the measured window."""

    events: int = 0
    calls: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, accepted: int | None, latency: float) -> None:
        if accepted is None:
            self.errors += 1
            return
        self.calls += 1
        self.events += accepted
        self.latencies.append(latency)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def make_call(channel: grpc.aio.Channel, key: str) -> Call:
    """Bytes in, accepted count out (None on an error status)."""
    rpc = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)  # bytes as they are
    metadata = (("x-api-key", key),)

    async def call(request: bytes) -> int:
        reply = await rpc(request, metadata=metadata, timeout=30.0)
        return int(pb.TrackBatchResponse.FromString(reply).result.accepted)

    return call


class Counted:
    """Counts every accepted event, warm-up included, to divide the service's CPU time by."""

    def __init__(self, call: Call) -> None:
        self._call, self.accepted = call, 0

    async def __call__(self, request: bytes) -> int:
        accepted = await self._call(request)
        self.accepted += accepted
        return accepted


async def timed(call: Call, request: bytes) -> int | None:
    try:
        return await call(request)
    except grpc.aio.AioRpcError as exc:
        print(f"loadgen: {exc.code().name}: {exc.details()}", file=sys.stderr)
        return None


async def closed_loop(call: Call, factory: RequestFactory, args: argparse.Namespace) -> list[Tally]:
    """One tally per window of `duration` seconds: the best window is the figure (as for
    the baseline's best run), which filters out a neighbour's burst on a shared machine."""
    windows = [Tally() for _ in range(args.windows)]
    start = time.perf_counter() + args.warmup
    end = start + args.duration * args.windows

    async def worker() -> None:
        while time.perf_counter() < end:
            request = factory.request(args.batch)
            sent = time.perf_counter()
            accepted = await timed(call, request)
            done = time.perf_counter()
            if start <= done < end:
                windows[int((done - start) // args.duration)].add(accepted, done - sent)

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return windows


async def paced(
    origin: float, interval: float, count: int, send: Callable[[int, float], Coroutine[Any, Any, None]]
) -> None:
    """`send(number, scheduled)` for `count` calls, one every `interval` seconds from `origin`,
    none waiting for an earlier answer; returns when every call has ended.

    A call's task is forgotten as soon as it ends: keeping 10,000 finished tasks on the heap
    made the generator's own full collections last 30-40 ms, every call waiting on them
    counted as the service's latency (two clients, same pauses at the same call count).
    """
    in_flight: set[asyncio.Task[None]] = set()
    for number in range(count):
        scheduled = origin + number * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(send(number, scheduled))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    while in_flight:
        await asyncio.gather(*in_flight)


async def open_loop(call: Call, factory: RequestFactory, args: argparse.Namespace) -> list[Tally]:
    tally = Tally()
    interval = args.batch / args.rate
    total = math.ceil((args.warmup + args.duration) / interval)
    requests = list(factory.requests(total, args.batch))
    origin = time.perf_counter() + 0.1
    measured_from = origin + args.warmup

    async def one(number: int, scheduled: float) -> None:
        accepted = await timed(call, requests[number])
        if scheduled >= measured_from:
            tally.add(accepted, time.perf_counter() - scheduled)

    await paced(origin, interval, total, one)
    return [tally]


def summary(windows: list[Tally], args: argparse.Namespace, accepted: int) -> dict[str, object]:
    rates = [w.events / args.duration for w in windows]
    ordered = sorted(s * 1000 for w in windows for s in w.latencies)
    return {
        "mode": args.mode,
        "events": sum(w.events for w in windows),
        "events_total": accepted,
        "calls": sum(w.calls for w in windows),
        "errors": sum(w.errors for w in windows),
        "window_s": args.duration,
        "window_events_per_s": [round(r, 1) for r in rates],
        "events_per_s": max(rates),
        "p50_ms": percentile(ordered, 50),
        "p99_ms": percentile(ordered, 99),
        "max_ms": ordered[-1] if ordered else math.nan,
    }


async def run(args: argparse.Namespace) -> dict[str, object]:
    factory = RequestFactory(seed=args.seed)
    async with grpc.aio.insecure_channel(args.address) as channel:
        call = Counted(make_call(channel, args.key))
        await call(factory.request(args.batch))  # connect and authenticate before the clock
        settle_heap()  # the generator's own collections must not pause its calls
        drive = closed_loop if args.mode == "closed" else open_loop
        windows = await drive(call, factory, args)
        return summary(windows, args, call.accepted)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bullseye-bench-loadgen", description=__doc__.split("\n")[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--mode", choices=["closed", "open"], default="closed")
    parser.add_argument("--batch", type=int, default=100, help="events per TrackBatch call")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight (closed)")
    parser.add_argument("--rate", type=float, default=1000.0, help="offered events/s (open)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not measured")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured (per window)")
    parser.add_argument("--windows", type=int, default=1, help="measured windows; the best one counts (closed)")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    print(json.dumps(uvloop.run(run(parse(argv)))))  # a lighter client leaves the service more CPU
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
