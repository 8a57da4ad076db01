"""The envelope of every call: trace, deadline, admission, error mapping, metrics and the call log.

Every RPC shape goes through it (unary, server streaming, client streaming, bidirectional),
and every request is parsed and checked by it (`parsing.py`) before a servicer sees it.
Servicers raise `ServiceError`s and never touch status codes themselves. Unexpected
exceptions become INTERNAL with no internals leaked to the caller (the log has them). A
call the servicer aborted itself is counted with the code it aborted with; a call its
client cancelled, as CANCELLED. A failed call is counted, timed and logged before its
status is sent, so a client that saw the failure finds it in the metrics. Every call of a
method with a scope is admitted first (auth/guard.py: credentials, then the scope), inside
the envelope, so a refused call is logged and counted like any other; the admitted
principal is current for the rest of the call.

The envelope runs on every call, so it is kept cheap (at 1,000 calls/s each microsecond
here is 0.1% of a core; the envelope cost ~300 us of CPU per call on 2 cores, ~100 us now):
- the wrapped handler of a method is built once and reused, not rebuilt per call;
- a call that succeeds (or that its client cancelled) in less than `slow_call` seconds is
  logged at DEBUG: formatting and writing a JSON line per call cost more than the rest of
  the envelope. Slow calls are logged at INFO, failed ones at WARNING, each with method,
  code, duration and trace id; counts and durations of every call are in the metrics;
- the trace context is extracted only when the caller sent one of the propagator's headers,
  and the span is made current directly rather than through context-manager layers;
- the count of a (method, code) is bound once and added to as an integer (instruments/tally.py);
- a method's admission is built once, and a token verified once per token (auth/tokens.py).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import Token
from time import perf_counter
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from bullseye_platform.auth.guard import Admission, Guard, Metadata
from bullseye_platform.auth.principal import become
from bullseye_platform.grpc.errors import ServiceError
from bullseye_platform.grpc.parsing import checked, checked_each, parser_for
from bullseye_platform.instruments.tally import Count, tally

log = logging.getLogger("bullseye.grpc")

Context = grpc.aio.ServicerContext[Any, Any]
Unary = Callable[[Any, Context], Awaitable[Any]]  # a request (or a request stream) -> a response
Streaming = Callable[[Any, Context], AsyncIterator[Any]]  # a request (or a request stream) -> responses
Check = Callable[[Any], Any]  # what gRPC parsed (a request or a request stream) -> what the servicer reads
_OK, _CANCELLED = grpc.StatusCode.OK, grpc.StatusCode.CANCELLED
_NO_PARENT = otel_context.Context()  # a call without trace headers starts its own trace
_Status = tuple[grpc.StatusCode, str, Metadata]  # what `context.abort` sends: code, details, trailing metadata


class _Telemetry:
    """What every call reports to: the tracer, the meters, and which headers carry a trace."""

    def __init__(self) -> None:
        # Taken at the first call, when the service has set its providers up: calls then skip
        # the API's proxies (without providers the proxies are what get_tracer returns).
        self.tracer = trace.get_tracer("bullseye.grpc")
        meter = metrics.get_meter("bullseye.grpc")
        self.calls = tally("bullseye.grpc", "rpc_server_calls", description="gRPC calls handled, by method and code")
        self.duration = meter.create_histogram("rpc_server_duration", unit="ms", description="gRPC call duration")
        self.trace_headers = frozenset(propagate.get_global_textmap().fields)


class CallEnvelope:
    """The envelope of one method, built once and shared by all its calls.

    Args:
        method: the full method name, `/package.Service/Method`.
        admission: who may call it; None for an open method (health, reflection).
        default_deadline: seconds a unary call may run when the client set no deadline.
        slow_call: seconds above which a successful call is logged at INFO.
    """

    def __init__(
        self, method: str, telemetry: _Telemetry, *, admission: Admission | None, default_deadline: float,
        slow_call: float,
    ) -> None:  # fmt: skip
        self.method = method
        self._admission = admission
        self._telemetry = telemetry
        self._default_deadline = default_deadline
        self._slow_ms = slow_call * 1000
        self._span_attributes = {"rpc.method": method}
        self._duration_attributes = {"rpc.method": method}  # prebuilt, never mutated: OTel copies them
        self._calls: dict[grpc.StatusCode, Count] = {}

    async def unary(self, behaviour: Unary, check: Check, request: Any, context: Context) -> Any:
        """Run a unary-response behaviour inside the envelope, under a deadline; `check`
        turns what gRPC parsed (one request or a stream of them) into what the servicer reads."""
        remaining = context.time_remaining()
        return await self._run(
            behaviour, check, request, context, self._default_deadline if remaining is None else remaining
        )

    async def writing(self, behaviour: Unary, check: Check, request: Any, context: Context) -> Any:
        """Run a streaming behaviour that writes its responses itself (`context.write`, e.g.
        health's Watch, which lasts as long as its client watches) under its client's deadline."""
        return await self._run(behaviour, check, request, context, context.time_remaining())

    async def _run(self, behaviour: Unary, check: Check, request: Any, context: Context, budget: float | None) -> Any:
        """The caller admitted, then its request (the request is checked only for a caller who
        may send it: a stranger learns nothing of the rules), then the behaviour, under `budget`."""
        metadata: Metadata = context.invocation_metadata() or ()  # type: ignore[assignment]
        span, token = self._start_span(metadata)
        started = perf_counter()
        try:
            async with asyncio.timeout(budget):
                if self._admission is not None:
                    become(await self._admission.admit(metadata))
                response = await behaviour(check(request), context)
        except BaseException as exc:
            await self._fail(exc, context, span, token, started)
            raise
        self._finish(span, token, _OK, started)
        return response

    async def stream(
        self, behaviour: Streaming, check: Check, bounded: bool, request: Any, context: Context
    ) -> AsyncIterator[Any]:
        """Run a response-streaming behaviour inside the envelope; `request` is the request, or
        the request stream. A `bounded` one (server streaming: one request, a finite answer)
        gets the default deadline when its client set none, like a unary call; a bidirectional
        stream lives as long as its client keeps it."""
        remaining = context.time_remaining()
        budget = self._default_deadline if remaining is None and bounded else remaining
        metadata: Metadata = context.invocation_metadata() or ()  # type: ignore[assignment]
        span, token = self._start_span(metadata)
        started = perf_counter()
        try:
            if self._admission is not None:
                become(await self._admission.admit(metadata))
            async for response in _under_deadline(behaviour(check(request), context), budget):
                yield response
        except BaseException as exc:
            await self._fail(exc, context, span, token, started)
            raise
        self._finish(span, token, _OK, started)

    def _start_span(self, metadata: Metadata) -> tuple[Span, Token[otel_context.Context]]:
        """A server span, current until `_finish`, that continues the caller's trace if it sent one."""
        parent = _NO_PARENT
        headers = self._telemetry.trace_headers
        if any(key in headers for key, _ in metadata):
            parent = propagate.extract({key: value for key, value in metadata if isinstance(value, str)})
        span = self._telemetry.tracer.start_span(
            self.method, context=parent, kind=SpanKind.SERVER, attributes=self._span_attributes
        )
        return span, otel_context.attach(trace.set_span_in_context(span))

    async def _fail(
        self, exc: BaseException, context: Context, span: Span, token: Token[otel_context.Context], started: float
    ) -> None:
        """Count, time and log a call that raised `exc`, then end it with its status (abort raises).

        In that order because grpc.aio's `abort` sends the status to the client before it raises:
        a client that has seen the failure must find it in the metrics. Cancellation, or an abort
        by the servicer itself, has ended the call already: it is only recorded, then re-raised.
        """
        code = _code_of(exc, context)
        status = self._status_of(exc, code)  # logs an unhandled error while the span is current
        self._finish(span, token, code, started)
        if status is not None:
            await context.abort(*status)

    def _status_of(self, exc: BaseException, code: grpc.StatusCode) -> _Status | None:
        """What the client is told of a call that raised `exc`; None when the call has ended already."""
        if not isinstance(exc, Exception) or isinstance(exc, grpc.aio.AbortError):
            return None
        if isinstance(exc, ServiceError):
            status = exc.to_status()
            return status.code, status.details, status.trailing_metadata
        if code is grpc.StatusCode.DEADLINE_EXCEEDED:
            return code, f"{self.method} did not finish before its deadline", ()
        log.exception("unhandled error in %s", self.method, exc_info=exc)
        return code, "internal error; the server log has the details", ()

    def _finish(self, span: Span, token: Token[otel_context.Context], code: grpc.StatusCode, started: float) -> None:
        """Count, time and log the call while its span is current (logs carry its trace id), then end the span."""
        elapsed_ms = (perf_counter() - started) * 1000
        calls = self._calls.get(code)
        if calls is None:
            calls = self._calls[code] = self._telemetry.calls.bind(
                {"rpc.method": self.method, "rpc.grpc.status_code": code.name}
            )
        calls.add()
        self._telemetry.duration.record(elapsed_ms, self._duration_attributes)
        if code is _OK or code is _CANCELLED:
            self._log_done(code, elapsed_ms)
        else:
            span.set_status(Status(StatusCode.ERROR, code.name))
            log.warning("rpc failed", extra={"method": self.method, "code": code.name, "ms": round(elapsed_ms, 2)})
        span.end()
        otel_context.detach(token)

    def _log_done(self, code: grpc.StatusCode, elapsed_ms: float) -> None:
        """A call that did not fail: INFO when slow, else DEBUG (the record is not even built at INFO)."""
        if elapsed_ms >= self._slow_ms:
            log.info("slow rpc", extra={"method": self.method, "code": code.name, "ms": round(elapsed_ms, 2)})
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("rpc", extra={"method": self.method, "code": code.name, "ms": round(elapsed_ms, 2)})


async def _under_deadline(responses: AsyncIterator[Any], budget: float | None) -> AsyncIterator[Any]:
    """The servicer's responses, each produced before the deadline `budget` seconds from now.

    Only the servicer's own steps run under the timeout: a yield hands the response to gRPC,
    whose write (and a slow reader's flow control) happens outside this frame, where a
    timeout's cancellation could not be told from the client's.
    """
    deadline = None if budget is None else asyncio.get_running_loop().time() + budget
    try:
        while True:
            async with asyncio.timeout_at(deadline):
                try:
                    response = await anext(responses)
                except StopAsyncIteration:
                    return
            yield response
    finally:
        await responses.aclose()  # type: ignore[attr-defined]


def _code_of(exc: BaseException, context: Context) -> grpc.StatusCode:
    """The status code a call that raised `exc` ends with."""
    if isinstance(exc, ServiceError):
        return exc.code
    if isinstance(exc, TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED
    if not isinstance(exc, Exception):  # cancelled, or a response stream closed early: unfinished
        return _CANCELLED
    if isinstance(exc, grpc.aio.AbortError):  # the servicer aborted the call itself
        code = context.code()
        return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
    return grpc.StatusCode.INTERNAL


def _as_is(request: Any) -> Any:
    """What a handler that parses its own bytes gets: the bytes."""
    return request


class EnvelopeInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc,type-arg]
    """Wraps the handlers of every RPC shape alike, once per method.

    Args:
        guard: admits the calls of every method it does not know to be open.
        default_deadline: seconds a unary call may run when the client set no deadline,
            so a stuck dependency cannot pile up calls forever.
        slow_call: seconds above which a successful call is logged at INFO (below: DEBUG).
    """

    def __init__(self, *, guard: Guard, default_deadline: float = 30.0, slow_call: float = 1.0) -> None:
        self._guard = guard
        self._default_deadline = default_deadline
        self._slow_call = slow_call
        self._telemetry: _Telemetry | None = None
        # method -> (the handler it was built from, the wrapped one); only methods that resolve
        # to a handler get here, so its size is bounded by the methods registered.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler[Any, Any], grpc.RpcMethodHandler[Any, Any]]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(details)
        if handler is None:
            return handler
        cached = self._wrapped.get(details.method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(details.method, handler)
        self._wrapped[details.method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
        if self._telemetry is None:  # first call: telemetry is set up by now
            self._telemetry = _Telemetry()
        envelope = CallEnvelope(
            method, self._telemetry, admission=self._guard.admission(method),
            default_deadline=self._default_deadline, slow_call=self._slow_call,
        )  # fmt: skip
        # grpc tells coroutine handlers from async generator ones by inspecting them, which sees
        # through a partial of a bound method; a partial saves a frame per call over a closure.
        parser = parser_for(handler.request_deserializer)
        one, each = (checked, checked_each) if parser else (_as_is, _as_is)
        shapes: tuple[tuple[Any, Any, Check, bool | None], ...] = (  # behaviour, maker, check, bounded
            (handler.unary_unary, grpc.unary_unary_rpc_method_handler, one, None),
            (handler.stream_unary, grpc.stream_unary_rpc_method_handler, each, None),
            (handler.unary_stream, grpc.unary_stream_rpc_method_handler, one, True),
            (handler.stream_stream, grpc.stream_stream_rpc_method_handler, each, False),
        )
        behaviour, make, check, bounded = next(shape for shape in shapes if shape[0])
        run: functools.partial[Any]
        if bounded is None:
            run = functools.partial(envelope.unary, behaviour, check)
        elif inspect.isasyncgenfunction(behaviour):
            run = functools.partial(envelope.stream, behaviour, check, bounded)
        else:  # a streaming behaviour that writes through its context
            run = functools.partial(envelope.writing, behaviour, check)
        return make(  # type: ignore[no-any-return]
            run,
            request_deserializer=parser or handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
