"""`python -m bullseye_devtools.bench.recommendation_read`: Recommend (or the no-op Health.Check)
from its own OS process, closed loop or open loop at a fixed rate.

The calling machinery is profile_read's (pre-serialized requests, replies left unparsed,
the operator's token per call, latency from the scheduled send time in the open loop); only
the requests differ: one RecommendRequest per MovieLens user (k = 10 over the whole catalog,
the person's history read by the service), drawn at random; `prime` asks for every user
once (what the service's ranking cache then holds). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye_platform.auth.operator import operator_credentials
from bullseye_platform.service import settle_heap

from bullseye_devtools.bench.profile_read import CONCURRENCY, RATE, Rpc, _one, closed_loop, open_loop, prime, summary

METHODS = {"health": "/grpc.health.v1.Health/Check",
           "recommend": "/bullseye.recommendation.v1.RecommendationService/Recommend"}  # fmt: skip
K = 10


def requests(method: str, users: int) -> list[bytes]:
    if method == "health":
        return [b""]
    return [pb.RecommendRequest(person_id=f"u{user}", k=K).SerializeToString() for user in range(users)]


async def run(args: argparse.Namespace) -> dict[str, object]:
    bodies = requests(args.method, args.users)
    rpc = Rpc(args.address, METHODS[args.method], args.connections, operator_credentials(os.environ))
    try:
        for _ in rpc.channels:
            await _one(rpc, bodies[0])  # every connection made before the clock starts
        settle_heap()
        if args.mode == "prime":  # every user once: each serving process ranks and keeps their answer
            started = time.perf_counter()
            tally = await prime(rpc, bodies, args.concurrency)
            args.duration = time.perf_counter() - started
            return summary([tally], args)
        drive = closed_loop if args.mode == "closed" else open_loop
        return summary(await drive(rpc, bodies, args), args)
    finally:
        await rpc.close()


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bullseye-bench-recommendation-read", description=__doc__.split("\n")[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--method", choices=sorted(METHODS), default="recommend")
    parser.add_argument("--mode", choices=["prime", "closed", "open"], default="closed")
    parser.add_argument("--users", type=int, required=True, help="users u0.. to ask for")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="calls in flight (closed)")
    parser.add_argument("--connections", type=int, default=1, help="connections the calls are dealt over")
    parser.add_argument("--rate", type=float, default=RATE, help="offered calls/s (open)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds not measured")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured (per window)")
    parser.add_argument("--windows", type=int, default=1, help="measured windows; the best one counts (closed)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    # asyncio, not uvloop: see profile_read.main (uvloop's millisecond timers clump the schedule).
    print(json.dumps(asyncio.run(run(parse(argv)))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
