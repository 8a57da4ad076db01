"""`platform.auth`: what authentication costs a call.

In one process (no NATS, no PostgreSQL): the guard's admission of a call whose token was
verified before (the cost every call pays), a token's first verification (an Ed25519
signature check, paid once per token and server), and a closed loop of calls to a guarded
no-op beside the same loop on the open Health.Check of the same server, both carrying the
operator's token: their ratio is what the guard leaves of a call's throughput.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import grpc
import uvloop
from bullseye_platform.auth import Grants, SigningKey, TokenMinter, TokenVerifier, TrustedKeys
from bullseye_platform.auth.guard import Admission
from bullseye_platform.grpc import GrpcServer, ServerOptions
from grpc_health.v1 import health_pb2

from bullseye_devtools.bench.registry import Result, Session, benchmark

SERVICE = "bullseye.bench.v1.Noop"
SCOPE = "bench:call"
HEALTH = "/grpc.health.v1.Health/Check"
CONCURRENCY = 8


def keys() -> tuple[TokenMinter, TokenVerifier]:
    key = SigningKey.generate()
    verifier = TokenVerifier(TrustedKeys.from_env(key.trusted_entry("operator")), Grants())
    return TokenMinter("operator", key), verifier


async def admission_us(count: int) -> float:
    """µs per admission of a call with a token verified before."""
    minter, verifier = keys()
    admission, metadata = Admission(f"/{SERVICE}/Call", SCOPE, [verifier]), minter.metadata()
    await admission.admit(metadata)
    started = time.perf_counter()
    for _ in range(count):
        await admission.admit(metadata)
    return (time.perf_counter() - started) / count * 1e6


async def verify_us(count: int) -> float:
    """µs per first verification of a token (each a new one)."""
    key = SigningKey.generate()
    tokens = [TokenMinter("operator", key, lifetime=300 + n).token() for n in range(count)]
    verifier = TokenVerifier(TrustedKeys.from_env(key.trusted_entry("operator")), Grants())
    started = time.perf_counter()
    for token in tokens:
        await verifier.authenticate(token)
    return (time.perf_counter() - started) / count * 1e6


async def _noop(request: bytes, context: Any) -> bytes:
    return b""


def _register(servicer: object, server: grpc.aio.Server) -> None:
    handler = grpc.unary_unary_rpc_method_handler(_noop)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Call": handler}),))


async def closed_loop(channel: grpc.aio.Channel, method: str, request: bytes, metadata: Any, seconds: float) -> float:
    """Calls/s of `method` with CONCURRENCY calls in flight for `seconds`."""
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    done, end = 0, time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < end:
            await call(request, metadata=metadata, timeout=10)
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done / (time.perf_counter() - started)


async def calls_per_s(seconds: float) -> tuple[float, float]:
    """(open Health.Check, guarded no-op) calls/s on one server, alternating rounds, best of each."""
    minter, verifier = keys()
    server = GrpcServer(ServerOptions(host="127.0.0.1", port=0, grace=0.0), authenticators=[verifier])
    server.add(_register, None, SERVICE, scopes={f"/{SERVICE}/Call": SCOPE})
    await server.start()
    health, metadata = health_pb2.HealthCheckRequest().SerializeToString(), minter.metadata()
    rounds: dict[str, list[float]] = {"open": [], "guarded": []}
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            for _ in range(3):
                rounds["open"].append(await closed_loop(channel, HEALTH, health, metadata, seconds))
                rounds["guarded"].append(await closed_loop(channel, f"/{SERVICE}/Call", b"", metadata, seconds))
    finally:
        await server.stop()
    return max(rounds["open"]), max(rounds["guarded"])


@benchmark(
    "platform.auth",
    provides=["platform.auth.admit_us", "platform.auth.verify_us", "platform.auth.open_call",
              "platform.auth.guarded_call"],
)  # fmt: skip
def auth_cost(session: Session) -> Iterator[Result]:
    """The guard's cost per call, per token, and on a no-op call's throughput."""
    quick = session.quick
    session.step("admissions of a cached token; first verifications")
    yield Result("platform.auth.admit_us", uvloop.run(admission_us(2_000 if quick else 50_000)), "µs")
    yield Result("platform.auth.verify_us", uvloop.run(verify_us(100 if quick else 2_000)), "µs")
    session.step(f"closed loop, {CONCURRENCY} in flight: Health.Check (open) and a guarded no-op, same server")
    open_rate, guarded_rate = uvloop.run(calls_per_s(0.5 if quick else 3.0))
    detail = {"concurrency": CONCURRENCY, "client_and_server": "one process"}
    yield Result("platform.auth.open_call", open_rate, "calls/s", detail=detail)
    yield Result("platform.auth.guarded_call", guarded_rate, "calls/s", baseline="platform.auth.open_call",
                 detail=detail)  # fmt: skip
