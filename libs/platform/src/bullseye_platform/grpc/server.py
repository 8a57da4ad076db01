"""A grpc.aio server with standard health and reflection, and a graceful stop.

On SIGTERM: health turns NOT_SERVING (load balancers and kubelet stop sending), the
server waits `drain_delay` for that to propagate, stops accepting calls and lets calls in
flight finish for up to `grace` seconds, then the service closes its resources.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from bullseye_platform.grpc.interceptors import EnvelopeInterceptor

log = logging.getLogger(__name__)

# A background job of a service process: runs until the event is set.
Worker = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass(frozen=True, kw_only=True)
class ServerOptions:
    """How the server listens and stops.

    port: 0 picks a free port (tests); max_message_bytes bounds a request before any
    code of ours sees it; default_deadline applies to unary calls without one; a call that
    succeeds is logged at INFO when it took `slow_call` seconds or more, else at DEBUG;
    reuse_port lets several processes listen on the port, the kernel spreading connections.
    """

    host: str = "0.0.0.0"
    port: int = 50051
    max_message_bytes: int = 4 * 1024 * 1024
    grace: float = 10.0
    drain_delay: float = 0.0
    default_deadline: float = 30.0
    slow_call: float = 1.0
    reuse_port: bool = False


class GrpcServer:
    """Build with `add()`, then `start()`; `serve_until_signal()` runs it as a process."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.health = HealthServicer()
        self._names: list[str] = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
        self._server = grpc.aio.server(
            interceptors=[EnvelopeInterceptor(default_deadline=options.default_deadline, slow_call=options.slow_call)],
            options=[
                ("grpc.max_receive_message_length", options.max_message_bytes),
                ("grpc.max_send_message_length", options.max_message_bytes),
                ("grpc.so_reuseport", int(options.reuse_port)),
            ],
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self.port = 0

    def add(self, register: Callable[[Any, grpc.aio.Server], None], servicer: Any, service_name: str) -> None:
        """Register a servicer; `service_name` is its full proto name, for health and reflection."""
        register(servicer, self._server)
        self._names.append(service_name)

    async def start(self) -> int:
        """Bind and start serving; returns the bound port."""
        reflection.enable_server_reflection([*self._names, reflection.SERVICE_NAME], self._server)
        self.port = self._server.add_insecure_port(f"{self.options.host}:{self.options.port}")
        await self._server.start()
        for name in ["", *self._names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("grpc server listening", extra={"port": self.port, "services": self._names})
        return self.port

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
