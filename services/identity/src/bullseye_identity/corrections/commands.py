"""Building correction commands from requests, and their outcomes as answers. Pure.

The command id derives from everything the request asks (and its optional request_id),
never from a clock or a random source: a retry of the same request is the same command,
which the log stores once and the resolver applies once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from bullseye.identity.v1 import correction_pb2 as cpb
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye_platform.grpc import Decided
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import status_pb2

COMMAND_NAMESPACE = uuid.UUID("0c6f5d8e-3b1a-4f7e-9a2d-5e8b7c1d4f60")
Reply = TypeVar("Reply", bound=Message)


def merge_command(request: pb.MergeRequest, *, at: datetime) -> cpb.IdentityCorrection:
    merge = cpb.MergePersons(person_id=request.person_id, other_person_id=request.other_person_id)
    return _command(cpb.IdentityCorrection(reason=request.reason, merge=merge), request.request_id, at)


def split_command(
    request: pb.SplitRequest, identifiers: Sequence[pb.IdentifierRef], *, at: datetime
) -> cpb.IdentityCorrection:
    """`identifiers` as the log may hold them: emails and phones as keyed hashes only."""
    split = cpb.SplitPerson(person_id=request.person_id, identifiers=identifiers)
    return _command(cpb.IdentityCorrection(reason=request.reason, split=split), request.request_id, at)


def _command(correction: cpb.IdentityCorrection, request_id: str, at: datetime) -> cpb.IdentityCorrection:
    # Deterministic serialization of what is asked (before the id and the time are set).
    asked = correction.SerializeToString(deterministic=True)
    correction.command_id = str(uuid.uuid5(COMMAND_NAMESPACE, f"{asked.hex()}/{request_id}"))
    correction.occurred_at.FromDatetime(at)
    return correction


def ok(reply: Message) -> status_pb2.Status:
    """The outcome of a correction that took effect: OK, the RPC's reply in its details."""
    packed = any_pb2.Any()
    packed.Pack(reply)
    return status_pb2.Status(code=0, details=[packed])


def answer(outcome: status_pb2.Status, reply_type: type[Reply]) -> Reply:
    """The reply an outcome holds.

    Raises:
        Decided: the correction was refused; the error is answered as the resolver recorded it.
    """
    if outcome.code != 0:
        raise Decided(outcome)
    reply = reply_type()
    if len(outcome.details) != 1 or not outcome.details[0].Unpack(reply):
        raise RuntimeError(f"the outcome holds no {reply_type.DESCRIPTOR.name}")  # the kind is in the command id
    return reply
