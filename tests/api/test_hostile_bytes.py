"""Every method of every service, sent bytes that are not its request: garbage, a request
cut short, random bytes. The answer is INVALID_ARGUMENT when they do not parse and never
UNKNOWN or INTERNAL, whatever they hold; methods are read from the descriptors, so a new
one is covered without a change here."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import wire
from tests.api.contract import RawCaller, methods, request_type, services

GARBAGE = b"\xff\xff\xff\xff\x0f garbage"
# Whatever a request holds, a field promising 20 bytes that are not all there cuts it short.
TRUNCATED = wire.unknown(b"x" * 20)[:-3]
NEVER = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
METHODS = methods()


def method_id(method: MethodDescriptor) -> str:
    return f"{method.containing_service.name}.{method.name}"


def test_every_service_of_the_contract_is_served_in_these_tests(addresses: dict[str, str]) -> None:
    assert {s.full_name for s in services()} == set(addresses)


@pytest.mark.parametrize("method", METHODS, ids=method_id)
@pytest.mark.parametrize("payload", [GARBAGE, TRUNCATED], ids=["garbage", "truncated"])
def test_bytes_that_are_not_a_request_are_invalid_argument(
    raw_call: RawCaller, method: MethodDescriptor, payload: bytes
) -> None:
    assert raw_call(method, payload) == grpc.StatusCode.INVALID_ARGUMENT


def _parses(method: MethodDescriptor, payload: bytes) -> bool:
    try:
        request_type(method).FromString(payload)
    except DecodeError:
        return False
    return True


@pytest.mark.parametrize("method", METHODS, ids=method_id)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=120))
def test_random_bytes_get_a_proper_status(raw_call: RawCaller, method: MethodDescriptor, payload: bytes) -> None:
    code = raw_call(method, payload)

    assert code not in NEVER
    if not _parses(method, payload):
        assert code == grpc.StatusCode.INVALID_ARGUMENT
