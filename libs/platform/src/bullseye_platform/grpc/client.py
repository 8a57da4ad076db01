"""One way to call another service (docs/design.md D5): every outgoing channel is opened here.

A channel from `channel()` gives each call
- the caller's token (`authorization: Bearer`, re-minted before it expires), unless the call
  brings credentials of its own;
- a client span, child of the current span, whose W3C `traceparent` the call carries: the
  server span of the service called is its child, so a trace shows the call from both ends
  (and how long the caller waited, retries included, against how long the server worked);
- a default deadline, when the call sets none;
- retries with exponential backoff, on UNAVAILABLE only, and only for methods whose proto
  says `idempotency_level = NO_SIDE_EFFECTS` or `IDEMPOTENT` (gRPC's own retry policy, from
  a service config built from the descriptor: nothing is retried that could be applied twice);
- keepalive pings, so a dead peer is noticed before a call waits on it;
- TLS (and a client certificate for mTLS) when configured, plaintext otherwise.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from bullseye_platform.auth.scopes import is_idempotent
from bullseye_platform.auth.tokens import TokenMinter
from bullseye_platform.grpc.tls import ClientTls

_CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key"})


def channel(
    address: str,
    *,
    credentials: TokenMinter | None,
    service: ServiceDescriptor | None = None,
    tls: ClientTls | None = None,
    deadline: float | None = 5.0,
    max_attempts: int = 4,
    initial_backoff: float = 0.1,
    max_backoff: float = 1.0,
    keepalive: float = 30.0,
    reconnect_backoff: float = 1.0,
    own_connection: bool = False,
    tracer: trace.Tracer | None = None,
) -> grpc.aio.Channel:
    """An asyncio channel to `address` (host:port); the caller closes it.

    Args:
        credentials: the caller's tokens; None sends none (open methods, or calls that bring
            their own, e.g. an event source's API key).
        service: the service called; its idempotent methods get the retry policy.
        tls: the CA to trust (and a client certificate); None speaks plaintext.
        deadline: seconds a call may take when it sets no timeout itself; None: no default.
        max_attempts: tries of an idempotent call that failed UNAVAILABLE (first one included).
        initial_backoff, max_backoff: seconds before the first retry, and at most between two
            (gRPC doubles it each time and randomizes it).
        keepalive: seconds between pings on a connection (10 s without an answer drops it).
        reconnect_backoff: at most this many seconds between reconnection attempts: gRPC's
            default grows to 120 s, and a fail-fast call on a channel still backing off fails
            for that long after its peer came back.
        own_connection: a connection of this channel's own, not one shared with other channels
            to the same address: a server of several processes (SO_REUSEPORT) serves each
            connection from one of them, so a caller that means to reach them all opens several.
        tracer: what starts the client spans; None: the process's (from its provider, at the
            first call, when the service has set its providers up).

    Raises:
        OSError: a TLS file cannot be read.
    """
    options: list[tuple[str, Any]] = [
        ("grpc.keepalive_time_ms", int(keepalive * 1000)),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.initial_reconnect_backoff_ms", 100),
        # Not grpc.min_reconnect_backoff_ms: gRPC core reads it as the minimum *connect timeout*
        # too (20 s by default); at 100 ms a handshake on a loaded machine timed out ("before
        # receiving SETTINGS frame") and the call failed.
        ("grpc.max_reconnect_backoff_ms", int(reconnect_backoff * 1000)),
        ("grpc.enable_retries", 1),
        ("grpc.use_local_subchannel_pool", int(own_connection)),
    ]
    if service is not None:
        policy = retry_policy(max_attempts=max_attempts, initial_backoff=initial_backoff, max_backoff=max_backoff)
        options.append(("grpc.service_config", service_config(service, policy)))
    interceptors = OutgoingCalls(credentials, deadline=deadline, tracer=tracer).interceptors()
    if tls is None:
        return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
    return grpc.aio.secure_channel(address, tls.credentials(), options=options, interceptors=interceptors)


def retry_policy(*, max_attempts: int, initial_backoff: float, max_backoff: float) -> dict[str, Any]:
    """gRPC's retryPolicy (gRFC A6): UNAVAILABLE means the call was not processed, or that the
    server went away mid-call, which only an idempotent method may safely repeat."""
    return {
        "maxAttempts": max_attempts,
        "initialBackoff": f"{initial_backoff}s",
        "maxBackoff": f"{max_backoff}s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }


def service_config(service: ServiceDescriptor, policy: dict[str, Any]) -> str:
    """The service config (JSON) that retries the idempotent methods of `service` by `policy`."""
    names = [{"service": service.full_name, "method": m.name} for m in service.methods if is_idempotent(m)]
    config = {"methodConfig": [{"name": names, "retryPolicy": policy}] if names else []}
    return json.dumps(config)


class OutgoingCalls:
    """What every call of a channel gets: a client span, the token, the trace context and the default deadline."""

    def __init__(self, credentials: TokenMinter | None, *, deadline: float | None, tracer: trace.Tracer | None) -> None:
        self._credentials, self._deadline, self._tracer = credentials, deadline, tracer
        self._ending: set[asyncio.Future[grpc.StatusCode]] = set()  # a task is only weakly held by its loop

    def interceptors(self) -> list[Any]:
        """One interceptor per call shape: grpc.aio files each interceptor under one shape only."""
        return [_UnaryUnary(self), _UnaryStream(self), _StreamUnary(self), _StreamStream(self)]

    async def call(self, continuation: Any, details: grpc.aio.ClientCallDetails, request: Any) -> Any:
        """Start the call inside a client span, which ends when the call does.

        A caller that sent its own trace context keeps it, and gets no span of ours: it named
        the parent of the server's span itself.
        """
        if any(key == "traceparent" for key, _ in details.metadata or ()):
            return await continuation(self.details(details, None), request)
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        span = self._started().start_span(method, kind=SpanKind.CLIENT, attributes={"rpc.method": method})
        try:
            call = await continuation(self.details(details, span), request)
        except BaseException:
            _end(span, grpc.StatusCode.UNKNOWN)
            raise
        if span.is_recording():  # a span that records nothing has nothing to end
            self._end_when_done(span, call)
        return call

    def _started(self) -> trace.Tracer:
        if self._tracer is None:
            self._tracer = trace.get_tracer("bullseye.grpc")
        return self._tracer

    def _end_when_done(self, span: Span, call: grpc.aio.Call) -> None:
        """End `span` with the call's status once it has one. Not by awaiting it here: a call
        whose caller writes its requests (`call.write`) starts only when this returns."""
        code: asyncio.Future[grpc.StatusCode] = asyncio.ensure_future(call.code())
        self._ending.add(code)
        code.add_done_callback(functools.partial(self._ended, span))

    def _ended(self, span: Span, code: asyncio.Future[grpc.StatusCode]) -> None:
        self._ending.discard(code)
        if code.cancelled():  # the loop closed before the call ended
            _end(span, grpc.StatusCode.CANCELLED)
        else:
            _end(span, grpc.StatusCode.UNKNOWN if code.exception() is not None else code.result())

    def details(self, details: grpc.aio.ClientCallDetails, span: Span | None) -> grpc.aio.ClientCallDetails:
        """The call's details with credentials, the trace context of `span` (if any) and a deadline."""
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        if self._credentials is not None and not any(key in _CREDENTIAL_HEADERS for key, _ in metadata):
            for key, value in self._credentials.metadata():
                metadata.add(key, value)
        if span is not None:
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=trace.set_span_in_context(span))  # nothing for an invalid span
            for key, value in carrier.items():
                metadata.add(key, value)
        timeout = self._deadline if details.timeout is None else details.timeout
        return grpc.aio.ClientCallDetails(
            details.method, timeout, metadata, details.credentials, details.wait_for_ready
        )


def _end(span: Span, code: grpc.StatusCode) -> None:
    """End a client span with the call's status (OpenTelemetry's RPC conventions: every code
    but OK is an error on the client side)."""
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code is not grpc.StatusCode.OK:
        span.set_status(Status(StatusCode.ERROR, code.name))
    span.end()


class _Shape:
    """An interceptor of one call shape: the shapes differ only in the name gRPC calls."""

    def __init__(self, outgoing: OutgoingCalls) -> None:
        self._outgoing = outgoing

    async def _intercept(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await self._outgoing.call(continuation, client_call_details, request)


class _UnaryUnary(_Shape, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    intercept_unary_unary = _Shape._intercept


class _UnaryStream(_Shape, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[type-arg]
    intercept_unary_stream = _Shape._intercept


class _StreamUnary(_Shape, grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[type-arg]
    intercept_stream_unary = _Shape._intercept  # type: ignore[assignment]  # its request is an iterator


class _StreamStream(_Shape, grpc.aio.StreamStreamClientInterceptor):  # type: ignore[type-arg]
    intercept_stream_stream = _Shape._intercept  # type: ignore[assignment]  # its request is an iterator
