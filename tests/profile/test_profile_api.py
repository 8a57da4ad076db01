"""The profile RPCs' contract: lookups, batches and precise errors."""

from __future__ import annotations

import grpc
import pytest
from bullseye.identity.v1 import identity_pb2 as id_pb
from bullseye.profile.v1 import profile_pb2 as pb

from tests.ingestion.helpers import failure, field_violations, reason
from tests.profile.support import ProfileUnderTest, ago, view


async def test_batch_get_returns_found_profiles_in_order_and_lists_the_missing(profile: ProfileUnderTest) -> None:
    await profile.feed.events("p-b1", view(ago(1)))
    await profile.feed.events("p-b2", view(ago(1)), view(ago(2)))
    await profile.caught_up()

    reply = await profile.api.BatchGetProfiles(pb.BatchGetProfilesRequest(person_ids=["p-b2", "nobody", "p-b1"]))

    assert [p.person_id for p in reply.profiles] == ["p-b2", "p-b1"]
    assert [p.behaviour.counts_lifetime.total for p in reply.profiles] == [2, 1]
    assert list(reply.missing_person_ids) == ["nobody"]


async def test_an_unknown_person_is_not_found(profile: ProfileUnderTest) -> None:
    error = await failure(profile.api.GetProfile(pb.GetProfileRequest(person_id="nobody-at-all")))

    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert reason(error) == "PROFILE_NOT_FOUND"


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.GetProfileRequest(), "person"),
        (pb.GetProfileRequest(person_id="x" * 129), "person_id"),
        (pb.GetProfileRequest(identifier=id_pb.IdentifierRef(value="a@b.c")), "identifier.type"),
    ],
)
async def test_get_profile_names_the_bad_field(
    profile: ProfileUnderTest, request_: pb.GetProfileRequest, field: str
) -> None:
    error = await failure(profile.api.GetProfile(request_))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(error)


@pytest.mark.parametrize(
    ("ids", "field"), [([], "person_ids"), (["p"] * 101, "person_ids"), (["ok", ""], "person_ids[1]")]
)
async def test_batch_get_names_the_bad_field(profile: ProfileUnderTest, ids: list[str], field: str) -> None:
    error = await failure(profile.api.BatchGetProfiles(pb.BatchGetProfilesRequest(person_ids=ids)))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(error)


async def test_lookup_by_identifier_without_identity_configured_is_a_failed_precondition(
    profile: ProfileUnderTest,
) -> None:
    ref = id_pb.IdentifierRef(type=id_pb.IDENTIFIER_TYPE_USER_ID, value="u-1")

    error = await failure(profile.api.GetProfile(pb.GetProfileRequest(identifier=ref)))

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "PROFILE_IDENTITY_ADDRESS" in error.details()
