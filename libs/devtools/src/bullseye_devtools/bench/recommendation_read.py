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
import os

from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye_platform.auth.operator import operator_credentials

from bullseye_devtools.bench.profile_read import Rpc, drive_calls, load_arguments, print_summary

METHODS = {"health": "/grpc.health.v1.Health/Check",
           "recommend": "/bullseye.recommendation.v1.RecommendationService/Recommend"}  # fmt: skip
K = 10


def requests(method: str, users: int) -> list[bytes]:
    if method == "health":
        return [b""]
    return [pb.RecommendRequest(person_id=f"u{user}", k=K).SerializeToString() for user in range(users)]


async def run(args: argparse.Namespace) -> dict[str, object]:
    rpc = Rpc(args.address, METHODS[args.method], args.connections, operator_credentials(os.environ))
    return await drive_calls(rpc, requests(args.method, args.users), args)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bullseye-bench-recommendation-read", description=__doc__.split("\n")[0])
    load_arguments(parser, METHODS, "recommend")
    parser.add_argument("--users", type=int, required=True, help="users u0.. to ask for")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return print_summary(run, parse(argv))


if __name__ == "__main__":
    raise SystemExit(main())
