"""What every Bullseye gRPC server offers: standard health, reflection, deadlines honoured."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from bullseye_devtools.stack.services import ServiceProcess
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from nats.aio.client import Client as NATS

from tests import channels
from tests.ingestion import helpers as h

SERVICE = "bullseye.ingestion.v1.IngestionService"


@pytest.mark.parametrize("service", ["", SERVICE], ids=["server", "ingestion_service"])
async def test_health_check_answers_serving(service: str, channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service=service))

    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_health_check_of_an_unknown_service_is_not_found(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    error = await h.failure(health.Check(health_pb2.HealthCheckRequest(service="no.such.Service")))

    assert error.code() == grpc.StatusCode.NOT_FOUND


async def test_reflection_lists_the_ingestion_service(channel: grpc.aio.Channel) -> None:
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (reply,) = await h.drain(reflection.ServerReflectionInfo(iter([request])))

    names = {s.name for s in reply.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= names


def described_methods(address: str) -> dict[str, tuple[str, str, bool, bool]]:
    """The service's methods as a client with no generated code learns them from reflection."""
    with channels.sync_channel(address, caller=None) as channel:  # reflection is open
        pool = DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        service = pool.FindServiceByName(SERVICE)
        return {
            m.name: (m.input_type.full_name, m.output_type.full_name, m.client_streaming, m.server_streaming)
            for m in service.methods
        }


async def test_reflection_describes_every_method_with_its_message_types(ingestion: ServiceProcess) -> None:
    methods = await asyncio.to_thread(described_methods, ingestion.address)

    package = "bullseye.ingestion.v1"
    assert methods == {
        "Track": (f"{package}.TrackRequest", f"{package}.TrackResponse", False, False),
        "TrackBatch": (f"{package}.TrackBatchRequest", f"{package}.TrackBatchResponse", False, False),
        "Ingest": (f"{package}.IngestRequest", f"{package}.IngestResponse", True, True),
        "PublishCatalog": (f"{package}.PublishCatalogRequest", f"{package}.PublishCatalogResponse", False, False),
        "AppendCorrections": (
            f"{package}.AppendCorrectionsRequest", f"{package}.AppendCorrectionsResponse", False, False
        ),
    }  # fmt: skip


async def test_call_with_a_tiny_deadline_fails_fast_or_succeeds_and_a_retry_stores_once(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    sent = h.event()
    request = pb.TrackBatchRequest(events=[sent])
    async with asyncio.timeout(10):
        try:
            await api.TrackBatch(request, metadata=h.auth(write_key), timeout=0.001)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    retry = await h.batch(api, write_key, [sent])

    assert retry.outcomes[0].status in (pb.EVENT_STATUS_ACCEPTED, pb.EVENT_STATUS_DUPLICATE)
    # Whichever of the two writes JetStream took first, it drops the other (same Nats-Msg-Id).
    assert len(await h.copies(nc, mark, sent.event_id)) == 1


async def test_unknown_method_is_unimplemented(channel: grpc.aio.Channel) -> None:
    call = channel.unary_unary(f"/{SERVICE}/Nope")(b"")
    error = await h.failure(call)

    assert error.code() == grpc.StatusCode.UNIMPLEMENTED
