"""The client factory: a call carries the caller's token and the current trace, gets a default
deadline, and is retried after UNAVAILABLE only where its proto says that is safe.

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
from opentelemetry.sdk.trace import TracerProvider

from tests import channels, credentials
from tests.platform.test_grpc_server import session_verifier

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


async def test_a_call_carries_the_current_span_as_traceparent(stand_in: tuple[StandIn, str]) -> None:
    servicer, address = stand_in
    tracer = TracerProvider().get_tracer("test")
    async with factory_channel(address) as channel:
        with tracer.start_as_current_span("caller") as span:
            await pb_grpc.IdentityServiceStub(channel).Resolve(pb.ResolveRequest(), timeout=10)
    context = span.get_span_context()

    expected = f"00-{context.trace_id:032x}-{context.span_id:016x}"
    assert [t.rsplit("-", 1)[0] for t in servicer.traceparents] == [expected, expected], "the retry carries it too"


async def test_a_channel_without_credentials_is_refused_by_a_closed_method(stand_in: tuple[StandIn, str]) -> None:
    _, address = stand_in
    async with client.channel(address, credentials=None) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await pb_grpc.IdentityServiceStub(channel).Resolve(pb.ResolveRequest(), timeout=10)

    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
