"""The envelope of every call: trace, deadline, error mapping, metrics and one log line.

Servicers raise `ServiceError`s and never touch status codes themselves. Unexpected
exceptions become INTERNAL with no internals leaked to the caller (the log has them).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import grpc
from opentelemetry import metrics, trace

from bullseye_platform.grpc.errors import ServiceError
from bullseye_platform.telemetry import extract_context

log = logging.getLogger("bullseye.grpc")
_tracer = trace.get_tracer("bullseye.grpc")


class _Meters:
    def __init__(self) -> None:
        meter = metrics.get_meter("bullseye.grpc")
        self.calls = meter.create_counter("rpc_server_calls", description="gRPC calls handled, by method and code")
        self.duration = meter.create_histogram("rpc_server_duration", unit="ms", description="gRPC call duration")


class CallEnvelope:
    """State shared by the wrappers of one call."""

    def __init__(self, method: str, context: grpc.aio.ServicerContext[Any, Any], meters: _Meters) -> None:
        self.method, self.context, self.meters = method, context, meters
        self.started = time.perf_counter()
        self.code = grpc.StatusCode.OK

    async def fail(self, exc: BaseException) -> None:
        """Abort the call with the status that `exc` stands for."""
        if isinstance(exc, ServiceError):
            self.code = exc.code
            status = exc.to_status()
            await self.context.abort(status.code, status.details, status.trailing_metadata)
        if isinstance(exc, TimeoutError):
            self.code = grpc.StatusCode.DEADLINE_EXCEEDED
            await self.context.abort(self.code, f"{self.method} did not finish before its deadline")
        self.code = grpc.StatusCode.INTERNAL
        log.exception("unhandled error in %s", self.method, exc_info=exc)
        await self.context.abort(self.code, "internal error; the server log has the details")

    async def __aenter__(self) -> CallEnvelope:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        # Cancellation and aborts raised by the servicer itself pass through untouched.
        try:
            if isinstance(exc, Exception) and not isinstance(exc, grpc.aio.AbortError):
                await self.fail(exc)
        finally:
            self.finish()

    def finish(self) -> None:
        elapsed_ms = (time.perf_counter() - self.started) * 1000
        code = self.code.name
        self.meters.calls.add(1, {"rpc.method": self.method, "rpc.grpc.status_code": code})
        self.meters.duration.record(elapsed_ms, {"rpc.method": self.method})
        level = logging.INFO if self.code in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED) else logging.WARNING
        log.log(level, "rpc", extra={"method": self.method, "code": code, "ms": round(elapsed_ms, 2)})


def _span(method: str, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    return _tracer.start_as_current_span(
        method, context=extract_context(metadata), kind=trace.SpanKind.SERVER, attributes={"rpc.method": method}
    )


class EnvelopeInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc,type-arg]
    """Wraps unary and streaming handlers alike.

    Args:
        default_deadline: seconds a unary call may run when the client set no deadline,
            so a stuck dependency cannot pile up calls forever.
    """

    def __init__(self, *, default_deadline: float = 30.0) -> None:
        self._default_deadline = default_deadline
        self._meters = _Meters()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                self._wrap_stream(method, cast(Callable[..., AsyncIterator[Any]], handler.stream_stream)),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _wrap_unary(self, method: str, behaviour: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            remaining = context.time_remaining()
            budget = remaining if remaining is not None else self._default_deadline
            with _span(method, context):
                async with CallEnvelope(method, context, self._meters), asyncio.timeout(budget):
                    return await behaviour(request, context)

        return call

    def _wrap_stream(self, method: str, behaviour: Callable[..., AsyncIterator[Any]]) -> Callable[..., Any]:
        async def call(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            with _span(method, context):
                async with CallEnvelope(method, context, self._meters):
                    async for response in behaviour(requests, context):
                        yield response

        return call
