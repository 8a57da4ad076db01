"""One way to call another service (docs/design.md D5): every outgoing channel is opened here.

A channel from `channel()` gives each call
- the caller's token (`authorization: Bearer`, re-minted before it expires), unless the call
  brings credentials of its own;
- the current span's W3C `traceparent`, so a trace continues into the service called;
- a default deadline, when the call sets none;
- retries with exponential backoff, on UNAVAILABLE only, and only for methods whose proto
  says `idempotency_level = NO_SIDE_EFFECTS` or `IDEMPOTENT` (gRPC's own retry policy, from
  a service config built from the descriptor: nothing is retried that could be applied twice);
- keepalive pings, so a dead peer is noticed before a call waits on it;
- TLS (and a client certificate for mTLS) when configured, plaintext otherwise.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from opentelemetry import propagate

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

    Raises:
        OSError: a TLS file cannot be read.
    """
    options: list[tuple[str, Any]] = [
        ("grpc.keepalive_time_ms", int(keepalive * 1000)),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", int(reconnect_backoff * 1000)),
        ("grpc.enable_retries", 1),
        ("grpc.use_local_subchannel_pool", int(own_connection)),
    ]
    if service is not None:
        policy = retry_policy(max_attempts=max_attempts, initial_backoff=initial_backoff, max_backoff=max_backoff)
        options.append(("grpc.service_config", service_config(service, policy)))
    interceptors = OutgoingCalls(credentials, deadline=deadline).interceptors()
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
    """What every call of a channel gets: the token, the trace context and the default deadline."""

    def __init__(self, credentials: TokenMinter | None, *, deadline: float | None) -> None:
        self._credentials, self._deadline = credentials, deadline

    def interceptors(self) -> list[Any]:
        """One interceptor per call shape: grpc.aio files each interceptor under one shape only."""
        return [_UnaryUnary(self), _UnaryStream(self), _StreamUnary(self), _StreamStream(self)]

    def details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        if self._credentials is not None and not any(key in _CREDENTIAL_HEADERS for key, _ in metadata):
            for key, value in self._credentials.metadata():
                metadata.add(key, value)
        if "traceparent" not in metadata:  # a caller that sent its own trace context keeps it
            carrier: dict[str, str] = {}
            propagate.inject(carrier)  # the current span's traceparent (nothing without a valid span)
            for key, value in carrier.items():
                metadata.add(key, value)
        timeout = self._deadline if details.timeout is None else details.timeout
        return grpc.aio.ClientCallDetails(
            details.method, timeout, metadata, details.credentials, details.wait_for_ready
        )


class _Shape:
    """An interceptor of one call shape: the shapes differ only in the name gRPC calls."""

    def __init__(self, outgoing: OutgoingCalls) -> None:
        self._outgoing = outgoing

    async def _intercept(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(self._outgoing.details(client_call_details), request)


class _UnaryUnary(_Shape, grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    intercept_unary_unary = _Shape._intercept


class _UnaryStream(_Shape, grpc.aio.UnaryStreamClientInterceptor):  # type: ignore[type-arg]
    intercept_unary_stream = _Shape._intercept


class _StreamUnary(_Shape, grpc.aio.StreamUnaryClientInterceptor):  # type: ignore[type-arg]
    intercept_stream_unary = _Shape._intercept  # type: ignore[assignment]  # its request is an iterator


class _StreamStream(_Shape, grpc.aio.StreamStreamClientInterceptor):  # type: ignore[type-arg]
    intercept_stream_stream = _Shape._intercept  # type: ignore[assignment]  # its request is an iterator
