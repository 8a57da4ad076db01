"""Every method of every service, sent bytes that are not its request: garbage, a request
cut short, random bytes. The answer is INVALID_ARGUMENT when they do not parse and never
UNKNOWN or INTERNAL, whatever they hold; methods are read from the descriptors, so a new
one is covered without a change here."""

from __future__ import annotations

import grpc
import pytest
from bullseye_devtools.scopes import services
from bullseye_devtools.stack.services import ServiceProcess
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import wire
from tests.api.contract import RawCaller, method_id, request_type, servable, served_methods
from tests.platform.waiting import wait_until_sync
from tests.profile.support import ProfileUnderTest
from tests.recommendation.support import RecommendationUnderTest

GARBAGE = b"\xff\xff\xff\xff\x0f garbage"
# Whatever a request holds, a field promising 20 bytes that are not all there cuts it short.
TRUNCATED = wire.unknown(b"x" * 20)[:-3]
NEVER = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL}
METHODS = served_methods()
# Every service of the contract has a process now; a new contract's service shows up here.
NOT_SERVED_YET: set[str] = set()


def test_every_service_with_a_process_is_served_in_these_tests(addresses: dict[str, str]) -> None:
    assert {s.full_name for s in services() if servable(s)} == set(addresses)


def test_only_the_services_being_built_have_no_process_yet() -> None:
    assert {s.full_name for s in services() if not servable(s)} == NOT_SERVED_YET


@pytest.mark.parametrize("method", METHODS, ids=method_id)
@pytest.mark.parametrize("payload", [GARBAGE, TRUNCATED], ids=["garbage", "truncated"])
def test_bytes_that_are_not_a_request_are_invalid_argument(
    raw_call: RawCaller, method: MethodDescriptor, payload: bytes
) -> None:
    assert raw_call(method, payload) == grpc.StatusCode.INVALID_ARGUMENT


def test_refused_bytes_leave_one_line_each_and_no_traceback_in_the_logs(
    raw_call: RawCaller, ingestion: ServiceProcess, identity: ServiceProcess, profile: ProfileUnderTest,
    recommendation: RecommendationUnderTest, campaign: ServiceProcess,
) -> None:  # fmt: skip
    logs = [ingestion.log_path, identity.log_path, profile.service.log_path, recommendation.service.log_path,
            campaign.log_path]  # fmt: skip
    before = [path.stat().st_size for path in logs]

    for method in METHODS:
        assert raw_call(method, GARBAGE) == grpc.StatusCode.INVALID_ARGUMENT

    def written() -> str:
        return "".join(path.read_bytes()[start:].decode() for path, start in zip(logs, before, strict=True))

    # A call's line is written as it ends, which its client may see first.
    wait_until_sync(lambda: written().count('"rpc failed"') >= len(METHODS))
    assert written().count('"rpc failed"') == len(METHODS)
    assert "Traceback" not in written() and "DecodeError" not in written()


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
