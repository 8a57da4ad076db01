"""GrpcServer and its call envelope: rich error statuses, deadlines, health, graceful drain.

A generic handler stands in for a generated servicer: requests and responses are raw bytes.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from bullseye_platform.auth import Grants, TokenVerifier, TrustedKeys
from bullseye_platform.grpc import (
    FailedPrecondition,
    GrpcServer,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    ServerOptions,
    ServiceError,
    Unauthenticated,
    Unavailable,
    violation,
)
from bullseye_platform.sockets import socket_path
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests import channels, credentials
from tests.platform.waiting import wait_until

M = TypeVar("M", bound=Message)
SERVICE = "bullseye.test.v1.Probe"
PROBE_SCOPE = "probe:call"
SECRET = "password=hunter2 host=db.internal"

ERRORS: dict[str, Callable[[], ServiceError]] = {
    "invalid": lambda: InvalidArgument(
        "2 events are invalid",
        [violation("events[0].occurred_at", "is in the future"), violation("events[3].event_id", "is empty")],
        reason="INVALID_EVENTS",
    ),
    "exhausted": lambda: ResourceExhausted(
        "rate limit reached", retry_after=1.5, subject="source:web", limit="1000 events/s"
    ),
    "not_found": lambda: NotFound("no person p-1", reason="PERSON_NOT_FOUND", metadata={"person_id": "p-1"}),
    "precondition": lambda: FailedPrecondition("campaign is not running"),
    "unauthenticated": lambda: Unauthenticated("missing x-api-key"),
    "denied": lambda: PermissionDenied("key may not read profiles"),
    "unavailable": lambda: Unavailable("event log unreachable"),
}


class Probe:
    """Methods that fail in each way a servicer can, or wait until the test lets them go."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def fail(self, request: bytes, context: Any) -> bytes:
        raise ERRORS[request.decode()]()

    async def crash(self, request: bytes, context: Any) -> bytes:
        raise RuntimeError(f"could not connect: {SECRET}")

    async def hang(self, request: bytes, context: Any) -> bytes:
        self.entered.set()
        await self.release.wait()
        return b"done"

    async def echo(self, request: bytes, context: Any) -> bytes:
        return request

    def methods(self) -> dict[str, Callable[[bytes, Any], Awaitable[bytes]]]:
        return {"Fail": self.fail, "Crash": self.crash, "Hang": self.hang, "Echo": self.echo}

    def register(self, servicer: Probe, server: grpc.aio.Server) -> None:
        handlers = {name: grpc.unary_unary_rpc_method_handler(fn) for name, fn in self.methods().items()}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


def session_verifier() -> TokenVerifier:
    """Admits the session's principals (tests/credentials.py) with the default grants."""
    return TokenVerifier(TrustedKeys.from_env(credentials.keys()["BULLSEYE_TRUSTED_KEYS"]), Grants())


async def start_server(probe: Probe, **options: Any) -> GrpcServer:
    """The probe served with authentication on: its methods need `probe:call` (the operator's)."""
    server = GrpcServer(ServerOptions(host="127.0.0.1", port=0, **options), authenticators=[session_verifier()])
    server.add(probe.register, probe, SERVICE, scopes={f"/{SERVICE}/{name}": PROBE_SCOPE for name in probe.methods()})
    await server.start()
    return server


async def call(channel: grpc.aio.Channel, method: str, payload: bytes = b"", deadline: float | None = 10.0) -> bytes:
    stub = channel.unary_unary(f"/{SERVICE}/{method}", request_serializer=None, response_deserializer=None)
    result: bytes = await stub(payload, timeout=deadline)
    return result


async def failure(channel: grpc.aio.Channel, method: str, payload: bytes = b"", **kw: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(channel, method, payload, **kw)
    return raised.value


def trailers(error: grpc.aio.AioRpcError) -> dict[str, Any]:
    metadata: Any = error.trailing_metadata() or ()  # (key, value) pairs; the stubs say otherwise
    return dict(metadata)


def rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The google.rpc.Status a client library decodes from the trailers."""
    return status_pb2.Status.FromString(trailers(error)["grpc-status-details-bin"])


def details(status: status_pb2.Status, kind: type[M]) -> list[M]:
    found = []
    for packed in status.details:
        if packed.Is(kind.DESCRIPTOR):
            message = kind()
            packed.Unpack(message)
            found.append(message)
    return found


@pytest.fixture
async def probe() -> Probe:
    return Probe()


@pytest.fixture
async def channel(probe: Probe) -> AsyncIterator[grpc.aio.Channel]:
    server = await start_server(probe, grace=1.0)
    async with channels.channel(f"127.0.0.1:{server.port}") as channel:
        yield channel
    probe.release.set()
    await server.stop()


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("invalid", grpc.StatusCode.INVALID_ARGUMENT),
        ("exhausted", grpc.StatusCode.RESOURCE_EXHAUSTED),
        ("not_found", grpc.StatusCode.NOT_FOUND),
        ("precondition", grpc.StatusCode.FAILED_PRECONDITION),
        ("unauthenticated", grpc.StatusCode.UNAUTHENTICATED),
        ("denied", grpc.StatusCode.PERMISSION_DENIED),
        ("unavailable", grpc.StatusCode.UNAVAILABLE),
    ],
)
async def test_each_service_error_reaches_the_client_with_its_status_code_and_message(
    channel: grpc.aio.Channel, kind: str, code: grpc.StatusCode
) -> None:
    error = await failure(channel, "Fail", kind.encode())

    expected = ERRORS[kind]()
    assert error.code() == code
    assert error.details() == expected.message
    assert rich_status(error).code == code.value[0]
    assert rich_status(error).message == expected.message


async def test_invalid_argument_lists_every_bad_field_as_a_bad_request_violation(channel: grpc.aio.Channel) -> None:
    status = rich_status(await failure(channel, "Fail", b"invalid"))

    [bad_request] = details(status, error_details_pb2.BadRequest)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [
        ("events[0].occurred_at", "is in the future"),
        ("events[3].event_id", "is empty"),
    ]
    [info] = details(status, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain) == ("INVALID_EVENTS", "bullseye.io")


async def test_resource_exhausted_says_when_to_retry_and_which_quota_was_hit(channel: grpc.aio.Channel) -> None:
    status = rich_status(await failure(channel, "Fail", b"exhausted"))

    [retry] = details(status, error_details_pb2.RetryInfo)
    assert retry.retry_delay.ToNanoseconds() == 1_500_000_000
    [quota] = details(status, error_details_pb2.QuotaFailure)
    assert [(v.subject, v.description) for v in quota.violations] == [("source:web", "1000 events/s")]
    [info] = details(status, error_details_pb2.ErrorInfo)
    assert info.reason == "RESOURCE_EXHAUSTED"


async def test_an_error_with_a_reason_carries_error_info_with_its_metadata(channel: grpc.aio.Channel) -> None:
    status = rich_status(await failure(channel, "Fail", b"not_found"))

    [info] = details(status, error_details_pb2.ErrorInfo)
    assert (info.reason, info.domain, dict(info.metadata)) == ("PERSON_NOT_FOUND", "bullseye.io", {"person_id": "p-1"})


async def test_an_error_without_a_reason_carries_no_details(channel: grpc.aio.Channel) -> None:
    assert list(rich_status(await failure(channel, "Fail", b"precondition")).details) == []


async def test_an_unexpected_exception_is_internal_and_leaks_nothing_of_its_text(channel: grpc.aio.Channel) -> None:
    error = await failure(channel, "Crash")

    assert error.code() == grpc.StatusCode.INTERNAL
    assert "hunter2" not in (error.details() or "") and "db.internal" not in (error.details() or "")
    assert all("hunter2" not in str(value) for value in trailers(error).values())


async def test_a_handler_slower_than_the_client_deadline_ends_in_deadline_exceeded(channel: grpc.aio.Channel) -> None:
    error = await failure(channel, "Hang", deadline=0.3)

    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_a_call_without_a_deadline_gets_the_servers_default_one(probe: Probe) -> None:
    server = await start_server(probe, default_deadline=0.3, grace=0.0)
    try:
        async with channels.channel(f"127.0.0.1:{server.port}") as channel:
            error = await failure(channel, "Hang", deadline=None)
    finally:
        await server.stop()

    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "did not finish before its deadline" in (error.details() or "")


async def test_a_started_server_reports_serving_and_lists_its_services(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", SERVICE):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING

    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async for reply in reflection.ServerReflectionInfo(iter([request]), timeout=5):
        listed = {s.name for s in reply.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= listed


async def test_a_server_given_a_socket_serves_there_too_with_the_same_admission(probe: Probe, tmp_path: Path) -> None:
    path = socket_path(tmp_path / "probe.sock", kind="grpc")
    server = await start_server(probe, socket=str(path))
    try:
        async with channels.channel(f"unix:{path}") as channel:
            assert await call(channel, "Echo", b"over the socket") == b"over the socket"
        async with channels.channel(f"unix:{path}", caller=None) as anonymous:
            assert (await failure(anonymous, "Echo")).code() == grpc.StatusCode.UNAUTHENTICATED
        async with channels.channel(f"127.0.0.1:{server.port}") as channel:
            assert await call(channel, "Echo", b"and on its port") == b"and on its port"
    finally:
        await server.stop()


async def test_stopping_turns_health_not_serving_and_lets_a_call_in_flight_finish(probe: Probe) -> None:
    server = await start_server(probe, drain_delay=1.0, grace=10.0)
    async with channels.channel(f"127.0.0.1:{server.port}") as channel:
        in_flight = asyncio.create_task(call(channel, "Hang"))
        await probe.entered.wait()
        stopping = asyncio.create_task(server.stop())

        health = health_pb2_grpc.HealthStub(channel)

        async def not_serving() -> bool:
            reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            return bool(reply.status == health_pb2.HealthCheckResponse.NOT_SERVING)

        await wait_until(not_serving, within=5)
        refused = await wait_until_refused(channel)
        probe.release.set()

        assert await in_flight == b"done"
        await stopping
    # A call that races the shutdown, accepted by the transport but never handed to a
    # handler, ends CANCELLED rather than UNAVAILABLE: grpc core's doing (grpc/grpc#41785).
    assert refused in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)


async def wait_until_refused(channel: grpc.aio.Channel) -> grpc.StatusCode:
    """Call until the server refuses new calls (it has stopped accepting); returns the code."""
    async with asyncio.timeout(10):
        while True:
            try:
                await call(channel, "Echo", b"ping", deadline=2)
            except grpc.aio.AioRpcError as exc:
                return exc.code()
            await asyncio.sleep(0.02)


async def test_a_failing_worker_stops_the_server_once_the_other_workers_have_finished(probe: Probe) -> None:
    """They may still hold what the process closes after (a projection's pull subscription)."""
    server, finished = await start_server(probe), asyncio.Event()

    async def failing(stop: asyncio.Event) -> None:
        raise RuntimeError("a serving helper exited")

    async def busy(stop: asyncio.Event) -> None:
        await stop.wait()
        await asyncio.sleep(0.2)  # the batch in hand, longer than stopping a server with no call in flight
        finished.set()

    try:
        with pytest.raises(RuntimeError, match="a serving helper exited"):
            await server.serve_until_signal([failing, busy])
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):  # serve_until_signal took them from the test's loop
            asyncio.get_running_loop().remove_signal_handler(sig)

    assert finished.is_set()
