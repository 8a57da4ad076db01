"""Profile's segments (does one exist, is its membership computed, how many members) and, for
templates that read them, traits and tags; and the segments a campaign owns (an inline rule).

The channel comes from the platform's client factory (bootstrap.py): campaign's token (scopes
`segments:read`, `segments:manage`, `profiles:read`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from bullseye.profile.v1 import profile_pb2, profile_pb2_grpc
from bullseye.profile.v1 import segments_pb2 as spb
from bullseye_platform.grpc.errors import InvalidArgument, violation
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from bullseye_campaign.adapters.calls import failed

PROFILES_PER_CALL = 100  # profile's BatchGetProfiles limit


@dataclass(frozen=True)
class SegmentState:
    """A segment as profile has it now: its version, whether its members are computed, how many."""

    segment_id: str
    version: int
    ready: bool
    members: int


class ProfileClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = profile_pb2_grpc.ProfileServiceStub(channel)
        self._channel = channel

    async def segment(self, segment_id: str) -> SegmentState | None:
        """The segment, or None when profile has none of that id.

        Raises:
            Unavailable, FailedPrecondition: profile did not answer, or refused campaign.
        """
        try:
            reply = await self._stub.GetSegment(spb.GetSegmentRequest(segment_id=segment_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise failed("profile", "segments:read", exc) from exc
        ready = reply.segment.membership_state == spb.MEMBERSHIP_STATE_READY
        return SegmentState(segment_id, reply.segment.version, ready, reply.member_count)

    async def create_owned(self, segment_id: str, *, name: str, rule: spb.Rule, path: str) -> None:
        """Create the segment of an inline rule (its id taken already: created before, by this campaign).

        Raises:
            InvalidArgument: profile refused the rule; violations at `path` (e.g. campaign.audience.rule).
            Unavailable, FailedPrecondition: profile did not answer, or refused campaign.
        """
        segment = spb.Segment(segment_id=segment_id, name=name[:200], rule=rule,
                              description="owned by a campaign: its inline audience rule")  # fmt: skip
        try:
            await self._stub.CreateSegment(spb.CreateSegmentRequest(segment=segment))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                return
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument(f"the audience rule is invalid: {exc.details()}", _moved(exc, path)) from exc
            raise failed("profile", "segments:manage", exc) from exc

    async def delete_owned(self, segment_id: str) -> None:
        """Delete a campaign's own segment (its campaign ended); gone already is done.

        Raises:
            Unavailable, FailedPrecondition: profile did not answer, or refused campaign.
        """
        try:
            await self._stub.DeleteSegment(spb.DeleteSegmentRequest(segment_id=segment_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise failed("profile", "segments:manage", exc) from exc

    async def profiles(self, person_ids: Sequence[str]) -> dict[str, profile_pb2.Profile]:
        """person id -> profile now; persons without one are left out.

        Raises:
            Unavailable, FailedPrecondition: profile did not answer, or refused campaign.
        """
        found: dict[str, profile_pb2.Profile] = {}
        unique = sorted(set(person_ids))
        for start in range(0, len(unique), PROFILES_PER_CALL):
            request = profile_pb2.BatchGetProfilesRequest(person_ids=unique[start : start + PROFILES_PER_CALL])
            try:
                reply = await self._stub.BatchGetProfiles(request)
            except grpc.aio.AioRpcError as exc:
                raise failed("profile", "profiles:read", exc) from exc
            found.update((p.person_id, p) for p in reply.profiles)
        return found

    async def close(self) -> None:
        await self._channel.close(grace=None)


def _moved(exc: grpc.aio.AioRpcError, path: str) -> list[error_details_pb2.BadRequest.FieldViolation]:
    """Profile's violations (at `segment.rule...`) at the campaign's path of the rule."""
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    moved = []
    for detail in status.details if status is not None else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            for v in bad.field_violations:
                moved.append(violation(path + v.field.removeprefix("segment.rule"), v.description))
    return moved or [violation(path, exc.details() or "refused by profile")]
