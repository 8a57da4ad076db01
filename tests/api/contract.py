"""The methods of the contract, read from the generated descriptors: a service or method
added to the protos is covered by the tests that enumerate them, without a change here."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import bullseye
import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from tests.channels import sync_channel

# Ingestion authenticates sources by their API key (README, "Ingestion API").
KEYED_SERVICES = frozenset({"bullseye.ingestion.v1.IngestionService"})


@cache
def services() -> tuple[ServiceDescriptor, ...]:
    """Every gRPC service the protos declare."""
    found: dict[str, ServiceDescriptor] = {}
    for module in pkgutil.walk_packages(bullseye.__path__, "bullseye."):
        if module.name.endswith("_pb2"):
            for service in importlib.import_module(module.name).DESCRIPTOR.services_by_name.values():
                found[service.full_name] = service
    return tuple(found[name] for name in sorted(found))


def methods() -> list[MethodDescriptor]:
    return [method for service in services() for method in service.methods]


def request_type(method: MethodDescriptor) -> type[Message]:
    return GetMessageClass(method.input_type)


class RawCaller:
    """Calls any method with request bytes as they are, over blocking channels (one per
    service, closed with `close()`); ingestion's calls carry the API key."""

    def __init__(self, addresses: dict[str, str], api_key: str) -> None:
        self._channels = {service: sync_channel(address) for service, address in addresses.items()}
        self._api_key = api_key

    def __call__(self, method: MethodDescriptor, payload: bytes, *, timeout: float = 30.0) -> grpc.StatusCode:
        """The status code the call ends with (its responses are read and dropped)."""
        service = method.containing_service.full_name
        path = f"/{service}/{method.name}"
        shape = f"{'stream' if method.client_streaming else 'unary'}_{'stream' if method.server_streaming else 'unary'}"
        call = getattr(self._channels[service], shape)(path, request_serializer=None, response_deserializer=None)
        metadata = [("x-api-key", self._api_key)] if service in KEYED_SERVICES else []
        try:
            answer = call(iter([payload]) if method.client_streaming else payload, timeout=timeout, metadata=metadata)
            if method.server_streaming:
                list(answer)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return, attr-defined]
        return grpc.StatusCode.OK

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
