"""Property-based: any request of any method, its fields filled from all of Unicode and every
number's range, or with text that passes the input rules (tests/strategies.py), gets a
proper status: never UNKNOWN, INTERNAL or UNAVAILABLE (which would tell a client to retry
what can only fail again). Methods are read from the descriptors, so a new one is fuzzed
without a change here."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.api.contract import RawCaller, method_id, request_type, served_methods
from tests.strategies import messages, plain_text

NEVER = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE}


@pytest.mark.parametrize("method", served_methods(), ids=method_id)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_request_gets_a_proper_status(raw_call: RawCaller, method: MethodDescriptor, data: st.DataObject) -> None:
    message_type = request_type(method)
    requests = st.one_of(messages(message_type, depth=4), messages(message_type, depth=4, strings=plain_text()))
    request: Message = data.draw(requests, label="request")

    code = raw_call(method, request.SerializeToString())
    event(code.name)
    assert code not in NEVER
