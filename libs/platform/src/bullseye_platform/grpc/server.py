"""A grpc.aio server with standard health and reflection, admission of every call, TLS
when configured, and a graceful stop.

On SIGTERM: health turns NOT_SERVING (load balancers and kubelet stop sending), the
server waits `drain_delay` for that to propagate, stops accepting calls and lets calls in
flight finish for up to `grace` seconds, then the service closes its resources.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from bullseye_platform.auth.guard import Authenticator, Guard
from bullseye_platform.grpc.interceptors import EnvelopeInterceptor
from bullseye_platform.grpc.tls import ServerTls

log = logging.getLogger(__name__)

# A background job of a service process: runs until the event is set.
Worker = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass(frozen=True, kw_only=True)
class ServerOptions:
    """How the server listens and stops.

    port: 0 picks a free port (tests); socket: a Unix socket path served as well ("": none),
    an address its callers can know before the process starts; max_message_bytes bounds a
    request before any code of ours sees it; default_deadline applies to unary calls without one; a call that
    succeeds is logged at INFO when it took `slow_call` seconds or more, else at DEBUG;
    reuse_port lets several processes listen on the port, the kernel spreading connections;
    tls serves TLS (mTLS with a client CA) instead of plaintext.
    """

    host: str = "0.0.0.0"
    port: int = 50051
    socket: str = ""
    max_message_bytes: int = 4 * 1024 * 1024
    grace: float = 10.0
    drain_delay: float = 0.0
    default_deadline: float = 30.0
    slow_call: float = 1.0
    reuse_port: bool = False
    tls: ServerTls | None = None


# Clients (bullseye_platform.grpc.client) ping idle connections every 30 s to notice a dead peer
# before a call does; gRPC servers otherwise answer pings more frequent than every 5 minutes
# without calls with GOAWAY ("too_many_pings"). The key is gRPC core's
# GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, whose string has no "recv" in it: an
# unknown key is silently ignored (it was, and clients got GOAWAY after two pings).
KEEPALIVE_OPTIONS = (
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
)


class GrpcServer:
    """Build with `add()`, then `start()`; `serve_until_signal()` runs it as a process.

    Args:
        options: how it listens and stops.
        authenticators: the credentials its calls may prove themselves with, asked in order
            (every service passes the token verifier; ingestion its API keys as well).
    """

    def __init__(self, options: ServerOptions, *, authenticators: Sequence[Authenticator]) -> None:
        self.options = options
        self.health = HealthServicer()
        self._names: list[str] = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
        self._guard = Guard(authenticators)
        envelope = EnvelopeInterceptor(
            guard=self._guard, default_deadline=options.default_deadline, slow_call=options.slow_call
        )
        self._server = grpc.aio.server(
            interceptors=[envelope],
            options=[
                ("grpc.max_receive_message_length", options.max_message_bytes),
                ("grpc.max_send_message_length", options.max_message_bytes),
                ("grpc.so_reuseport", int(options.reuse_port)),
                *KEEPALIVE_OPTIONS,
            ],
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self.port = 0

    def add(
        self, register: Callable[[Any, grpc.aio.Server], None], servicer: Any, service_name: str,
        *, scopes: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        """Register a servicer; `service_name` is its full proto name, for health, reflection
        and the scopes its proto declares (`scopes`, method path -> scope, only for a service
        without a descriptor).

        Raises:
            ValueError: one of its methods declares no scope.
        """
        self._guard.declare(service_name, scopes)
        register(servicer, self._server)
        self._names.append(service_name)

    async def start(self) -> int:
        """Bind and start serving; returns the bound port."""
        reflection.enable_server_reflection([*self._names, reflection.SERVICE_NAME], self._server)
        self.port = self._bind(f"{self.options.host}:{self.options.port}")
        if self.options.socket:  # gRPC replaces a socket file left behind by an earlier run
            self._bind(f"unix:{self.options.socket}")
        await self._server.start()
        for name in ["", *self._names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        tls = self.options.tls is not None
        listening = {"port": self.port, "socket": self.options.socket, "services": self._names, "tls": tls}
        log.info("grpc server listening", extra=listening)
        return self.port

    def _bind(self, address: str) -> int:
        """Listen at `address` (TLS when configured, on a Unix socket too); returns the port bound."""
        tls = self.options.tls
        if tls is None:
            return self._server.add_insecure_port(address)
        return self._server.add_secure_port(address, tls.credentials())

    async def stop(self) -> None:
        """NOT_SERVING, drain, then stop with grace for calls in flight."""
        await self.health.enter_graceful_shutdown()
        if self.options.drain_delay:
            await asyncio.sleep(self.options.drain_delay)
        await self._server.stop(self.options.grace)

    async def serve_until_signal(self, workers: Sequence[Worker] = ()) -> None:
        """Serve, and run `workers` (projections, relays), until SIGTERM or SIGINT.

        On the signal, workers are told to stop (each finishes the batch in hand) while the
        server drains its calls; a worker that fails stops the whole process, so that a
        supervisor restarts it rather than leaving a server that answers but never projects.
        The others still finish first, before the caller closes what they use: a projection
        left fetching kept its pull subscription, and the NATS drain then waited its full
        30 s for it (a failing serving helper made a unit take that long to stop).
        """
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        tasks = [asyncio.create_task(worker(stop)) for worker in workers]
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        log.info("shutting down: draining calls in flight")
        await self.stop()
        failed = [r for r in await asyncio.gather(*tasks, return_exceptions=True) if isinstance(r, BaseException)]
        if failed:
            raise failed[0]
