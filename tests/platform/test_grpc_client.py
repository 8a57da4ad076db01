"""The client factory: a call carries the caller's token, runs in a client span of the current
trace (whose traceparent it carries), gets a default deadline, and is retried after UNAVAILABLE
only where its proto says that is safe.

Identity's real service descriptor is served by a stand-in servicer, so the retry policy is the
one the factory builds from `idempotency_level` (Resolve: NO_SIDE_EFFECTS; Merge: none).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye_platform.grpc import GrpcServer, ServerOptions, Unavailable, client
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, Tracer

from tests import channels, credentials
from tests.platform.test_grpc_server import session_verifier
from tests.platform.waiting import wait_until

IDENTITY = pb.DESCRIPTOR.services_by_name["IdentityService"]


class StandIn(pb_grpc.IdentityServiceServicer):
    """Fails each method's first call with UNAVAILABLE; remembers what the calls carried."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.traceparents: list[str] = []
        self.release = asyncio.Event()

    def _first_fails(self, method: str, context: Any) -> None:
        self.calls[method] += 1
        self.traceparents += [v for k, v in context.invocation_metadata() if k == "traceparent"]
        if self.calls[method] == 1:
            raise Unavailable("down for a moment")

    async def Resolve(self, request: pb.ResolveRequest, context: Any) -> pb.ResolveResponse:
        self._first_fails("Resolve", context)
        return pb.ResolveResponse(person_id="p-1")

    async def Merge(self, request: pb.MergeRequest, context: Any) -> pb.MergeResponse:
        self._first_fails("Merge", context)
        return pb.MergeResponse(survivor_person_id="p-1")

    async def GetHistory(self, request: pb.GetHistoryRequest, context: Any) -> pb.GetHistoryResponse:
        await self.release.wait()
        return pb.GetHistoryResponse()


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[StandIn, str]]:
    servicer = StandIn()
    server = GrpcServer(ServerOptions(host="127.0.0.1", port=0, grace=0.0), authenticators=[session_verifier()])
    server.add(pb_grpc.add_IdentityServiceServicer_to_server, servicer, IDENTITY.full_name)
    await server.start()
    yield servicer, f"127.0.0.1:{server.port}"
    servicer.release.set()
    await server.stop()


def factory_channel(address: str, **options: Any) -> grpc.aio.Channel:
    """The factory's channel as a service calling identity opens it (as the operator, who may call Merge)."""
    return client.channel(address, credentials=credentials.minter("operator"), service=IDENTITY, **options)


async def test_an_idempotent_method_is_retried_after_unavailable(stand_in: tuple[StandIn, str]) -> None:
    servicer, address = stand_in
    async with factory_channel(address) as channel:
        reply = await pb_grpc.IdentityServiceStub(channel).Resolve(pb.ResolveRequest(), timeout=10)

    assert reply.person_id == "p-1"
    assert servicer.calls["Resolve"] == 2


async def test_a_method_that_is_not_idempotent_is_never_retried(stand_in: tuple[StandIn, str]) -> None:
    servicer, address = stand_in
    async with channels.channel(address) as plain, factory_channel(address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await pb_grpc.IdentityServiceStub(channel).Merge(pb.MergeRequest(), timeout=10)
        await pb_grpc.IdentityServiceStub(plain).Merge(pb.MergeRequest(), timeout=10)  # the second call passes

    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert servicer.calls["Merge"] == 2, "one call by the factory's channel, one by the test"


async def test_a_call_without_a_timeout_gets_the_channels_default_deadline(stand_in: tuple[StandIn, str]) -> None:
    _, address = stand_in
    async with factory_channel(address, deadline=0.3) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await pb_grpc.IdentityServiceStub(channel).GetHistory(pb.GetHistoryRequest())

    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def recording() -> tuple[Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


async def ended(exporter: InMemorySpanExporter, count: int) -> list[ReadableSpan]:
    """The spans ended so far, once there are `count` (a client span ends when its call's status is in)."""

    async def all_ended() -> bool:
        return len(exporter.get_finished_spans()) >= count

    await wait_until(all_ended)
    return list(exporter.get_finished_spans())


async def test_a_call_runs_in_a_client_span_whose_traceparent_it_carries(stand_in: tuple[StandIn, str]) -> None:
    servicer, address = stand_in
    tracer, exporter = recording()
    async with factory_channel(address, tracer=tracer) as channel:
        with tracer.start_as_current_span("caller") as caller:
            await pb_grpc.IdentityServiceStub(channel).Resolve(pb.ResolveRequest(), timeout=10)
    [call] = [s for s in await ended(exporter, 2) if s.name != "caller"]

    assert call.name == "/bullseye.identity.v1.IdentityService/Resolve" and call.kind == SpanKind.CLIENT
    assert call.parent is not None and call.parent.span_id == caller.get_span_context().span_id
    assert call.context.trace_id == caller.get_span_context().trace_id
    assert call.status.status_code == StatusCode.UNSET
    assert call.attributes is not None and call.attributes["rpc.grpc.status_code"] == grpc.StatusCode.OK.value[0]
    expected = f"00-{call.context.trace_id:032x}-{call.context.span_id:016x}"
    carried = [t.rsplit("-", 1)[0] for t in servicer.traceparents]
    assert carried == [expected, expected], "one span for the call; the retry carries it too"


async def test_a_failed_call_ends_its_client_span_as_an_error(stand_in: tuple[StandIn, str]) -> None:
    _, address = stand_in
    tracer, exporter = recording()
    async with factory_channel(address, tracer=tracer) as channel:
        with pytest.raises(grpc.aio.AioRpcError):
            await pb_grpc.IdentityServiceStub(channel).Merge(pb.MergeRequest(), timeout=10)
    [call] = await ended(exporter, 1)

    assert call.status.status_code == StatusCode.ERROR and call.status.description == "UNAVAILABLE"
    assert call.attributes is not None
    assert call.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNAVAILABLE.value[0]


async def test_a_caller_that_sends_its_own_traceparent_keeps_it(stand_in: tuple[StandIn, str]) -> None:
    servicer, address = stand_in
    tracer, exporter = recording()
    own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with factory_channel(address, tracer=tracer) as channel:
        with tracer.start_as_current_span("caller"):
            await pb_grpc.IdentityServiceStub(channel).Resolve(
                pb.ResolveRequest(), metadata=[("traceparent", own)], timeout=10
            )

    assert servicer.traceparents == [own, own]
    assert [s.name for s in exporter.get_finished_spans()] == ["caller"], "no client span of the factory's"


async def test_a_channel_without_credentials_is_refused_by_a_closed_method(stand_in: tuple[StandIn, str]) -> None:
    _, address = stand_in
    async with client.channel(address, credentials=None) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await pb_grpc.IdentityServiceStub(channel).Resolve(pb.ResolveRequest(), timeout=10)

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
