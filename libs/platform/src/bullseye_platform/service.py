"""The command line every service shares: `serve` (default), `migrate`, `config`, and the
service's own commands (profile's `rebuild`).

One place decides how a service process starts and stops: config is loaded (or the process
exits naming the bad variables), logs and telemetry are set up, the service is built by its
composition root, the heap is settled, and the gRPC server and the background workers run
until SIGTERM. Services pass their config class, their `build` and their `open_store`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import uvloop

from bullseye_platform.config import Duration, describe, env, load_or_exit
from bullseye_platform.eventlog import Durability, StreamSpec
from bullseye_platform.grpc.server import GrpcServer, ServerOptions, Worker
from bullseye_platform.logging import configure_logging
from bullseye_platform.serving import exit_with_parent, helper_index, serving_helpers
from bullseye_platform.telemetry import setup_telemetry

log = logging.getLogger(__name__)
GC_YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """What every service reads: where NATS and PostgreSQL are, how it serves and stops, and
    the stream it owns. A service's config extends it (overriding defaults by redeclaring)."""

    nats_url: str = env("!NATS_URL", help="NATS server URL, e.g. nats://127.0.0.1:4222")
    database_url: str = env("!DATABASE_URL", help="PostgreSQL DSN, e.g. postgresql://user@host:5432/bullseye")
    grpc_port: int = env("GRPC_PORT", default=0, help="gRPC port (0 = any free port)")
    metrics_port: int = env("METRICS_PORT", default=0, help="Prometheus /metrics port (0 = off)")
    schema: str = env("SCHEMA", help="PostgreSQL schema of the service's tables")
    stream: str = env("STREAM", help="JetStream stream the service writes")
    subject_prefix: str = env("SUBJECT_PREFIX", help="subjects are <prefix>.<partition>.<kind>")
    partitions: int = env("PARTITIONS", default=16, help="partitions of the stream written (fixed once data exists)")
    durability: Durability = env(
        "!BULLSEYE_DURABILITY", default=Durability.STRICT, help="strict (1 replica, fsync) or replicated (3 replicas)"
    )
    duplicate_window: Duration = env(
        "DUPLICATE_WINDOW", default=Duration(600), help="repeats of a message id inside it are stored once"
    )
    shutdown_grace: Duration = env("SHUTDOWN_GRACE", default=Duration(10), help="time for calls in flight at stop")
    drain_delay: Duration = env("DRAIN_DELAY", default=Duration(0), help="NOT_SERVING before stopping (k8s: ~5s)")
    log_level: str = env("LOG_LEVEL", default="info", help="debug, info, warning, error")
    serve_processes: int = env(
        "SERVE_PROCESSES",
        default=1,
        help="processes serving gRPC on GRPC_PORT (SO_REUSEPORT; needs a fixed port); the first also runs the "
        "background workers, the others serve METRICS_PORT+1, +2, ...",
    )

    def server_options(self, **overrides: Any) -> ServerOptions:
        """How the gRPC server listens and stops, from the variables every service shares."""
        return ServerOptions(
            port=self.grpc_port, grace=self.shutdown_grace, drain_delay=self.drain_delay,
            reuse_port=self.serve_processes > 1, **overrides,
        )  # fmt: skip

    def owned_stream(self, **limits: Any) -> StreamSpec:
        """The stream this service writes, as configured; `limits` adds the service's own."""
        return StreamSpec(
            name=self.stream,
            subject_prefix=self.subject_prefix,
            replicas=self.durability.replicas,
            duplicate_window=self.duplicate_window,
            **limits,
        )


C = TypeVar("C", bound=ServiceConfig)
# A service's own command: run with its config and the arguments after the command's name.
Command = Callable[[C, Sequence[str]], Coroutine[Any, Any, int]]


@dataclass
class Running:
    """A built service: its gRPC server, the workers (projections, relays) run beside it once
    per deployment unit, and those every serving process runs (a cache's LISTEN)."""

    server: GrpcServer
    workers: Sequence[Worker] = ()
    everywhere: Sequence[Worker] = ()


def run_service(
    argv: list[str] | None,
    *,
    name: str,
    config_type: type[C],
    prefix: str,
    build: Callable[[C], AbstractAsyncContextManager[Running]],
    open_store: Callable[[C], Awaitable[asyncpg.Pool]],
    commands: Mapping[str, Command[C]] | None = None,
) -> int:
    """Parse argv and run the chosen command; returns the process exit code.

    `commands`: the service's own operator tools (ingestion's `keys`, profile's `rebuild`), each
    run with the loaded config and the arguments after its name; it returns the exit code.
    """
    program = f"bullseye-{name}"
    own = dict(commands or {})
    parser = argparse.ArgumentParser(prog=program, description=f"Bullseye {name} service")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate", "config", *own])
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="the arguments of a service's own command")
    args = parser.parse_args(argv)
    if args.arguments and args.command not in own:
        parser.error(f"{args.command} takes no arguments: {' '.join(args.arguments)}")
    if args.command == "config":
        for variable, default, text in describe(config_type, prefix=prefix):
            print(f"{variable:34} {default:22} {text}")
        return 0
    config = load_or_exit(config_type, prefix=prefix, program=program)
    configure_logging(name, level=config.log_level)
    if args.command == "migrate":
        asyncio.run(_migrate(config, open_store))
        return 0
    if args.command in own:
        return asyncio.run(own[args.command](config, [*args.arguments]))
    if config.serve_processes > 1 and config.grpc_port == 0:
        parser.error(f"{prefix}_SERVE_PROCESSES={config.serve_processes} needs a fixed {prefix}_GRPC_PORT, not 0")
    uvloop.run(_serve(name, config, build, prefix=prefix))
    return 0


async def _migrate(config: C, open_store: Callable[[C], Awaitable[asyncpg.Pool]]) -> None:
    """Opening the store applies the migrations; that is all `migrate` does."""
    pool = await open_store(config)
    await pool.close()


async def _serve(
    name: str, config: C, build: Callable[[C], AbstractAsyncContextManager[Running]], *, prefix: str
) -> None:
    helper = helper_index()  # None: the first process, which runs the workers and starts the helpers
    metrics_port = config.metrics_port + helper if config.metrics_port and helper else config.metrics_port
    telemetry = setup_telemetry(name, metrics_port=metrics_port)
    try:
        async with build(config) as running:
            port = await running.server.start()
            settle_heap()
            log.info("%s ready", name, extra={"grpc_port": port, "serving_process": helper or 0})
            workers = [*running.everywhere]
            if helper is not None:
                workers.append(exit_with_parent())
            else:
                workers += running.workers
                if config.serve_processes > 1:
                    workers.append(serving_helpers(config.serve_processes - 1, grace=config.shutdown_grace + 5))
            await running.server.serve_until_signal(workers)
    finally:
        telemetry.shutdown()


def settle_heap() -> None:
    """Move what start-up built (modules, descriptors, clients) out of the collector's reach.

    Under load a full collection walked those ~50k objects again, up to a 150 ms pause
    measured under `make bench`, which all calls in flight wait out (the latency p99).
    Young collections are made rarer too: requests create short-lived containers in
    bursts (100 events each), which die young if given the time.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
