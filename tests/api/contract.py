"""The methods of the contract, read from the generated descriptors: a service or method
added to the protos is covered by the tests that enumerate them, without a change here.

A service whose contract is on this branch before its process (its package has no
composition root, `bullseye_<area>.bootstrap`, yet) cannot be served by the test stack;
`served_methods()` leaves it out, and a test asserts exactly which services those are, so
the tests take a service in as soon as its process lands.
"""

from __future__ import annotations

import importlib.util

import grpc
from bullseye_devtools.scopes import services
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from tests.channels import sync_channel


def servable(service: ServiceDescriptor) -> bool:
    """Whether the package of `service` (`bullseye.<area>.v1.X` -> `bullseye_<area>`) has a
    composition root, i.e. a process that serves it."""
    area = service.full_name.split(".")[1]
    return importlib.util.find_spec(f"bullseye_{area}.bootstrap") is not None


def served_methods() -> list[MethodDescriptor]:
    return [method for service in services() if servable(service) for method in service.methods]


def request_type(method: MethodDescriptor) -> type[Message]:
    return GetMessageClass(method.input_type)


def method_id(method: MethodDescriptor) -> str:
    return f"{method.containing_service.name}.{method.name}"


class RawCaller:
    """Calls any method with request bytes as they are, over blocking channels (one per
    service, closed with `close()`), as the session's operator: every scope is the
    operator's, so what a call answers is about its request, never about its caller."""

    def __init__(self, addresses: dict[str, str]) -> None:
        self._channels = {service: sync_channel(address) for service, address in addresses.items()}

    def __call__(self, method: MethodDescriptor, payload: bytes, *, timeout: float = 30.0) -> grpc.StatusCode:
        """The status code the call ends with (its responses are read and dropped)."""
        service = method.containing_service.full_name
        path = f"/{service}/{method.name}"
        shape = f"{'stream' if method.client_streaming else 'unary'}_{'stream' if method.server_streaming else 'unary'}"
        call = getattr(self._channels[service], shape)(path, request_serializer=None, response_deserializer=None)
        try:
            answer = call(iter([payload]) if method.client_streaming else payload, timeout=timeout)
            if method.server_streaming:
                list(answer)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return, attr-defined]
        return grpc.StatusCode.OK

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
