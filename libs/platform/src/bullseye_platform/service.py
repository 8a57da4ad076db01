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
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import asyncpg
import grpc
import uvloop
from google.protobuf.descriptor import ServiceDescriptor

from bullseye_platform import ready, sockets
from bullseye_platform.auth import Grants, SigningKey, TokenMinter, TokenVerifier, TrustedKeys
from bullseye_platform.config import ConfigError, Duration, describe, env, json_schema, load_or_exit
from bullseye_platform.eventlog import Durability, StreamSpec
from bullseye_platform.grpc import client
from bullseye_platform.grpc.server import GrpcServer, ServerOptions, Worker
from bullseye_platform.grpc.tls import ClientTls, ServerTls
from bullseye_platform.instruments.sampled import Probe, Sampler
from bullseye_platform.logging import configure_logging
from bullseye_platform.serving import exit_with_parent, helper_index, serving_helpers
from bullseye_platform.telemetry import setup_telemetry

log = logging.getLogger(__name__)
GC_YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """What every service reads: where NATS and PostgreSQL are, how it serves and stops, the
    stream it owns, who it is and whom it trusts (D4), and its TLS files. A service's config
    extends it (overriding defaults by redeclaring); one that adds a `__post_init__` calls this one's."""

    prefix: ClassVar[str] = "SERVICE"  # of its variables: INGESTION, IDENTITY, PROFILE, ...

    nats_url: str = env("!NATS_URL", help="NATS server URL, e.g. nats://127.0.0.1:4222")
    database_url: str = env(
        "!DATABASE_URL", help="PostgreSQL DSN, e.g. postgresql://user:password@host:5432/bullseye", secret=True
    )
    grpc_port: int = env("GRPC_PORT", default=0, help=f"gRPC port (0 = any free port, reported in {ready.VARIABLE})")
    grpc_socket: str = env(
        "GRPC_SOCKET",
        default="",
        help=f"also serve gRPC on this Unix socket path (at most {sockets.PATH_MAX} bytes; empty = off): an address "
        "other services on the machine know before this one starts (test stacks: ports are bound at start)",
    )
    metrics_port: int | None = env(
        "METRICS_PORT", default=None, help="Prometheus /metrics port (unset = off, 0 = any free port)"
    )
    ready_file: str = env(
        f"!{ready.VARIABLE}", default="", help="file written with the bound ports once serving (test stacks)"
    )
    metrics_interval: Duration = env(
        "METRICS_INTERVAL", default=Duration(15), help="how often the sampled gauges (lag, backlog, sizes) are taken"
    )
    schema: str = env("SCHEMA", help="PostgreSQL schema of the service's tables")
    stream: str = env("STREAM", help="JetStream stream the service writes")
    subject_prefix: str = env("SUBJECT_PREFIX", help="subjects are <prefix>.<partition>.<kind>")
    partitions: int = env("PARTITIONS", default=16, help="partitions of the stream written (fixed once data exists)")
    durability: Durability = env(
        "!BULLSEYE_DURABILITY", default=Durability.STRICT, help="strict (1 replica, fsync) or replicated (3 replicas)"
    )
    stream_max_bytes: int = env(
        "STREAM_MAX_BYTES",
        default=0,
        help="bytes the written stream may hold (0 = no limit of its own); past it JetStream discards the OLDEST "
        "messages, so size it with room and alert well before (stream_bytes / stream_limit_bytes)",
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
        help="processes serving gRPC on GRPC_PORT (SO_REUSEPORT; the first binds it, 0 included, and hands it to "
        "the others); the first also runs the background workers, the others serve METRICS_PORT+1, +2, ...",
    )

    principal: str = env(
        "PRINCIPAL", default="", help="the name this service signs its calls as (`iss`); empty = the service's name"
    )
    signing_key: SigningKey = env(
        "SIGNING_KEY", help="base64 of this service's Ed25519 private key (32 bytes; a Kubernetes Secret)", secret=True
    )
    trusted_keys: TrustedKeys = env(
        "!BULLSEYE_TRUSTED_KEYS",
        help="the public keys of every principal whose tokens are accepted: name=<base64 Ed25519 public key>,...",
    )
    grants: Grants = env(
        "!BULLSEYE_GRANTS",
        default=Grants(),
        help="scopes of service and operator principals, e.g. 'profile=identities:read;alice=*'; each principal "
        "named replaces its defaults (bullseye_platform.auth.grants)",
    )
    tls_cert: str = env(
        "TLS_CERT_FILE", default="", help="PEM certificate chain the gRPC server presents (with TLS_KEY_FILE)"
    )
    tls_key: str = env(
        "TLS_KEY_FILE", default="", help="PEM private key of TLS_CERT_FILE; both set = the server speaks TLS"
    )
    tls_client_ca: str = env(
        "TLS_CLIENT_CA_FILE", default="", help="PEM CA of client certificates: set = mTLS required"
    )
    tls_ca: str = env("TLS_CA_FILE", default="", help="PEM CA trusted for outgoing calls: set = they speak TLS")
    tls_client_cert: str = env("TLS_CLIENT_CERT_FILE", default="", help="PEM certificate presented to mTLS servers")
    tls_client_key: str = env("TLS_CLIENT_KEY_FILE", default="", help="PEM private key of TLS_CLIENT_CERT_FILE")

    def __post_init__(self) -> None:
        """A half-configured TLS, or a socket path too long to bind, stops start-up like a
        malformed variable: ConfigError, naming it."""
        self._check_tls()
        if not sockets.fits(self.grpc_socket):
            raise ConfigError(
                f"{self.prefix}_GRPC_SOCKET is {len(self.grpc_socket.encode())} bytes long; a Unix socket's path "
                f"holds at most {sockets.PATH_MAX}: choose a shorter one"
            )

    def _check_tls(self) -> None:
        p = self.prefix
        pairs = (
            (self.tls_cert, self.tls_key, "TLS_CERT_FILE", "TLS_KEY_FILE"),
            (self.tls_client_cert, self.tls_client_key, "TLS_CLIENT_CERT_FILE", "TLS_CLIENT_KEY_FILE"),
        )
        for first, second, one, other in pairs:
            if bool(first) != bool(second):
                raise ConfigError(f"{p}_{one} and {p}_{other} go together: set both or neither")
        if self.tls_client_ca and not self.tls_cert:
            raise ConfigError(f"{p}_TLS_CLIENT_CA_FILE (mTLS) needs {p}_TLS_CERT_FILE and {p}_TLS_KEY_FILE (TLS) too")
        if self.tls_client_cert and not self.tls_ca:
            raise ConfigError(
                f"{p}_TLS_CLIENT_CERT_FILE needs {p}_TLS_CA_FILE: a client certificate is only sent over TLS"
            )

    def server_options(self, **overrides: Any) -> ServerOptions:
        """How the gRPC server listens and stops, from the variables every service shares."""
        return ServerOptions(
            port=self.grpc_port, socket=self.grpc_socket, grace=self.shutdown_grace, drain_delay=self.drain_delay,
            reuse_port=self.serve_processes > 1, tls=self.server_tls(), **overrides,
        )  # fmt: skip

    def sampled(self, *probes: Probe) -> list[Worker]:
        """The worker that takes `probes` for the metrics endpoint; none when metrics are off."""
        return [Sampler(probes, interval=self.metrics_interval).run] if self.metrics_port is not None else []

    def server_tls(self) -> ServerTls | None:
        if not self.tls_cert:
            return None
        client_ca = Path(self.tls_client_ca) if self.tls_client_ca else None
        return ServerTls(cert=Path(self.tls_cert), key=Path(self.tls_key), client_ca=client_ca)

    def client_tls(self) -> ClientTls | None:
        """TLS for the calls this service makes (bullseye_platform.grpc.client), if configured."""
        if not self.tls_ca:
            return None
        cert, key = (Path(self.tls_client_cert), Path(self.tls_client_key)) if self.tls_client_cert else (None, None)
        return ClientTls(ca=Path(self.tls_ca), cert=cert, key=key)

    def token_verifier(self) -> TokenVerifier:
        """What every server of this service admits service and operator tokens with."""
        return TokenVerifier(self.trusted_keys, self.grants)

    def credentials(self) -> TokenMinter:
        """This service's own tokens, for the calls it makes."""
        return TokenMinter(self.principal or self.prefix.lower(), self.signing_key)

    def channel_to(self, address: str, service: ServiceDescriptor, *, deadline: float) -> grpc.aio.Channel:
        """A channel for this service's calls to `service` (docs/design.md D5): its own tokens,
        its client TLS, the factory's retries of idempotent methods and `deadline`."""
        return client.channel(address, credentials=self.credentials(), service=service, tls=self.client_tls(),
                              deadline=deadline)  # fmt: skip

    def owned_stream(self, *, name: str = "", subject_prefix: str = "", **limits: Any) -> StreamSpec:
        """The stream this service writes, as configured (or another one it owns, by `name` and
        `subject_prefix`); `limits` adds the service's own."""
        return StreamSpec(
            name=name or self.stream,
            subject_prefix=subject_prefix or self.subject_prefix,
            replicas=self.durability.replicas,
            duplicate_window=self.duplicate_window,
            max_bytes=self.stream_max_bytes or -1,
            **limits,
        )


C = TypeVar("C", bound=ServiceConfig)
# A service's own command: run with its config and the arguments after the command's name.
Command = Callable[[C, Sequence[str]], Coroutine[Any, Any, int]]


@dataclass(frozen=True, kw_only=True)
class WorkerSettings:
    """The variable of a service with background readers and workers (its projections, outbox
    relay and job queues); a service config inherits it with its prefix."""

    linger: Duration = env(
        "LINGER",
        default=Duration(0),
        help="how long a reader or worker waits after a batch smaller than its batch size, or after a wake-up, "
        "before taking the next: what arrives meanwhile shares one transaction (less CPU an event under a steady "
        "high load, more latency at every hop; 0 = none, the default: see README, Lingering)",
    )


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
    words = sys.argv[1:] if argv is None else argv
    own_arguments = words[1:] if words and words[0] in own else None  # the command parses them itself
    args = _parser(program, name, own).parse_args(words if own_arguments is None else words[:1])
    command = args.command or "serve"
    if command == "config":
        _print_config(config_type, prefix=prefix, as_json=args.json)
        return 0
    config = load_or_exit(config_type, prefix=prefix, program=program)
    configure_logging(name, level=config.log_level)
    if command == "migrate":
        asyncio.run(_migrate(config, open_store))
        return 0
    if command in own:
        return asyncio.run(own[command](config, own_arguments or []))
    uvloop.run(_serve(name, config, build, prefix=prefix))
    return 0


def _parser(program: str, name: str, own: Mapping[str, Command[C]]) -> argparse.ArgumentParser:
    """`serve` when no command is named. A service's own commands are listed here for `--help`
    only: their arguments (their `--help` included) never reach this parser."""
    parser = argparse.ArgumentParser(prog=program, description=f"Bullseye {name} service")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="serve gRPC and run the background workers until SIGTERM (the default)")
    sub.add_parser("migrate", help="apply the database migrations, then exit")
    config = sub.add_parser("config", help="list the variables this service reads")
    config.add_argument("--json", action="store_true", help="the variables as JSON Schema properties")
    for command in own:
        sub.add_parser(command, help="the service's own tool (`<command> --help` describes it)")
    return parser


def _print_config(config_type: type[C], *, prefix: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(json_schema(config_type, prefix=prefix), indent=1))
        return
    for variable, default, text in describe(config_type, prefix=prefix):
        print(f"{variable:34} {default:22} {text}")


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
            serving = ready.Ready(port, () if telemetry.metrics_port is None else (telemetry.metrics_port,))
            await running.server.serve_until_signal(_beside_the_server(running, config, serving, helper, prefix))
    finally:
        telemetry.shutdown()


def _beside_the_server(
    running: Running, config: ServiceConfig, serving: ready.Ready, helper: int | None, prefix: str
) -> list[Worker]:
    """The workers this process runs beside its server. A lone process reports itself ready
    now (it serves); a first process with helpers leaves that to the worker that starts them,
    once they serve too."""
    report = Path(config.ready_file) if config.ready_file else None
    if helper is not None:
        _report(report, serving)
        return [*running.everywhere, exit_with_parent()]
    workers = [*running.everywhere, *running.workers]
    if config.serve_processes == 1:
        _report(report, serving)
        return workers
    # The helpers bind the port this process got: with GRPC_PORT=0, only the kernel knew it.
    # Not the socket: binding a Unix socket path replaces whoever listened there (no SO_REUSEPORT).
    settings = {f"{prefix}_GRPC_PORT": str(serving.grpc_port), f"{prefix}_GRPC_SOCKET": ""}
    count, grace = config.serve_processes - 1, config.shutdown_grace + 5
    return [*workers, serving_helpers(count, grace=grace, settings=settings, first=serving, report=report)]


def _report(path: Path | None, serving: ready.Ready) -> None:
    if path is not None:
        ready.write(path, serving)


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
