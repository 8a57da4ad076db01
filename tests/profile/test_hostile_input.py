"""Hostile requests to profile get INVALID_ARGUMENT naming what to fix, never INTERNAL,
UNAVAILABLE or UNKNOWN, and nothing a request hides in unknown fields is stored."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from bullseye.identity.v1 import identity_pb2 as id_pb
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye.profile.v1 import segments_pb2 as sg
from google.rpc import error_details_pb2

from tests import wire
from tests.ingestion.helpers import detail, failure, field_violations
from tests.profile.support import ProfileUnderTest

SERVICE = "/bullseye.profile.v1.ProfileService"


def raw(profile: ProfileUnderTest, method: str, answer: Any = None) -> Any:
    """`method` called with request bytes as they are."""
    return profile.channel.unary_unary(
        f"{SERVICE}/{method}", request_serializer=None, response_deserializer=answer.FromString if answer else None
    )


async def test_get_profile_by_an_identifier_with_a_nul_is_invalid_argument(profile: ProfileUnderTest) -> None:
    ref = id_pb.IdentifierRef(type=id_pb.IDENTIFIER_TYPE_EMAIL, value="a\x00@example.com")

    error = await failure(profile.api.GetProfile(pb.GetProfileRequest(identifier=ref)))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "U+0000" in field_violations(error)["identifier.value"]


@pytest.mark.parametrize(("seconds", "nanos"), [(253_402_300_800, 0), (0, -1), (0, 1_000_000_000)])
async def test_an_out_of_range_as_of_is_invalid_argument(profile: ProfileUnderTest, seconds: int, nanos: int) -> None:
    request = pb.GetProfileRequest(person_id="p-1")
    request.as_of.seconds, request.as_of.nanos = seconds, nanos
    batch = pb.BatchGetProfilesRequest(person_ids=["p-1"], as_of=request.as_of)
    at = sg.GetMembershipAtRequest(segment_id="s-1", at=request.as_of)

    for call, field in ((profile.api.GetProfile(request), "as_of"), (profile.api.BatchGetProfiles(batch), "as_of"),
                        (profile.api.GetMembershipAt(at), "at")):  # fmt: skip
        error = await failure(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and field in field_violations(error)


@pytest.mark.parametrize("method", ["Estimate", "CreateSegment"])
async def test_a_rule_nested_a_thousand_deep_is_invalid_argument_naming_the_limit(
    profile: ProfileUnderTest, method: str
) -> None:
    rule = wire.nested_rule(1000)
    request = (
        wire.field(1, rule) if method == "Estimate" else wire.field(1, wire.field(2, b"deep") + wire.field(4, rule))
    )

    error = await failure(raw(profile, method)(request, timeout=10))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "100 levels" in (error.details() or "")
    assert detail(error, error_details_pb2.ErrorInfo).reason == "REQUEST_TOO_DEEP"


async def test_a_rule_with_a_thousand_bad_values_gets_its_violations_back(profile: ProfileUnderTest) -> None:
    condition = sg.In(field="traits.birth_year", values=[sg.Literal(string_value=f"year {i}") for i in range(1000)])
    rule = sg.Rule()
    getattr(rule, "in").CopyFrom(condition)

    error = await failure(profile.api.Estimate(sg.EstimateRequest(rule=rule)))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    *listed, rest = detail(error, error_details_pb2.BadRequest).field_violations
    assert listed[0].field == "rule.in.values[0]"
    assert (rest.field, rest.description.split()[0]) == ("", str(1000 - len(listed)))


async def test_a_segment_rule_padded_with_unknown_fields_is_stored_without_them(profile: ProfileUnderTest) -> None:
    rule = sg.Rule(exists=sg.Exists(field="traits.city"))
    padded = rule.SerializeToString() + wire.unknown(b"p" * (2 << 20))  # two megabytes nobody declared
    segment = wire.field(1, b"padded") + wire.field(2, b"Padded") + wire.field(4, padded)  # id, name, rule

    created = await raw(profile, "CreateSegment", sg.CreateSegmentResponse)(wire.field(1, segment), timeout=30)
    stored = await profile.api.GetSegment(sg.GetSegmentRequest(segment_id=created.segment.segment_id))

    assert created.segment.rule.ByteSize() == stored.segment.rule.ByteSize() == rule.ByteSize()


async def test_list_members_errors_come_through_the_envelope(profile: ProfileUnderTest) -> None:
    """ListMembers streams its answer; its errors used to reach clients as UNKNOWN with the
    exception's class name, past the envelope."""
    missing = await failure(_drained(profile.api.ListMembers(sg.ListMembersRequest(segment_id="nobody-has-it"))))
    token = await failure(_drained(profile.api.ListMembers(sg.ListMembersRequest(segment_id="s", page_token="?"))))

    assert (missing.code(), detail(missing, error_details_pb2.ErrorInfo).reason) == (
        grpc.StatusCode.NOT_FOUND,
        "SEGMENT_NOT_FOUND",
    )
    assert token.code() == grpc.StatusCode.INVALID_ARGUMENT and "page_token" in field_violations(token)


async def _drained(call: Any) -> list[Any]:
    return [answer async for answer in call]
