"""Request checks of the profile RPCs: INVALID_ARGUMENT with a violation per bad field."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bullseye.profile.v1 import profile_pb2 as pb
from bullseye_platform.grpc.errors import InvalidArgument, violation
from google.protobuf import timestamp_pb2

MAX_ID = 128
MAX_BATCH = 100


def person_id_problem(value: str) -> str | None:
    if not value:
        return "required: a person id"
    if len(value) > MAX_ID:
        return f"at most {MAX_ID} characters"
    return None


def check_get(request: pb.GetProfileRequest) -> None:
    which = request.WhichOneof("person")
    if which is None:
        raise InvalidArgument("name the person", [violation("person", "set person_id or identifier")])
    if which == "person_id" and (problem := person_id_problem(request.person_id)):
        raise InvalidArgument("bad person_id", [violation("person_id", problem)])
    if which == "identifier":
        problems = []
        if request.identifier.type == 0:
            problems.append(violation("identifier.type", "required: the kind of identifier (email, user_id, ...)"))
        if not request.identifier.value:
            problems.append(violation("identifier.value", "required: the identifier's value"))
        if problems:
            raise InvalidArgument("bad identifier", problems)


def check_batch(person_ids: Sequence[str]) -> None:
    if not person_ids:
        raise InvalidArgument("no person ids", [violation("person_ids", f"give 1 to {MAX_BATCH} person ids")])
    if len(person_ids) > MAX_BATCH:
        raise InvalidArgument(
            f"too many person ids: at most {MAX_BATCH}", [violation("person_ids", f"at most {MAX_BATCH} per call")]
        )
    problems = [
        violation(f"person_ids[{i}]", problem)
        for i, pid in enumerate(person_ids)
        if (problem := person_id_problem(pid))
    ]
    if problems:
        raise InvalidArgument("bad person ids", problems)


def as_of(value: timestamp_pb2.Timestamp, has: bool, now: datetime) -> datetime:
    """The requested evaluation time, or `now` when none is given."""
    if not has:
        return now
    if value.seconds < 0:
        raise InvalidArgument("bad as_of", [violation("as_of", "must be after 1970-01-01")])
    return value.ToDatetime(tzinfo=now.tzinfo)
