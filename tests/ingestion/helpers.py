"""Shared by the ingestion contract tests: event builders, stubs, rich errors, stream reads.

Everything here goes through public surfaces only: the gRPC API, the EVENTS stream and the
key CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import grpc
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as id_pb
from bullseye.identity.v1 import identity_pb2_grpc as id_grpc
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from bullseye_platform import sealing
from bullseye_platform.crypto import DataKey
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from nats.aio.client import Client as NATS

from tests import channels

STREAM = "EVENTS"
DETAILS_KEY = "grpc-status-details-bin"

M = TypeVar("M", bound=Message)


# --- events -------------------------------------------------------------------------------


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(UTC)


def event(
    *,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
    anonymous_id: str | None = "anon-1",
    **payload: Message,
) -> ev.Event:
    """A valid event (a page view unless a payload is given as `kind=message`)."""
    built = ev.Event(
        event_id=new_id() if event_id is None else event_id, identifiers=ev.Identifiers(anonymous_id=anonymous_id or "")
    )
    built.occurred_at.FromDatetime(occurred_at or now())
    kind, message = next(iter(payload.items())) if payload else ("page_viewed", ev.PageViewed(name="home"))
    getattr(built, kind).CopyFrom(message)
    return built


def page_views(count: int) -> list[ev.Event]:
    return [event() for _ in range(count)]


def at(days: float = 0, seconds: float = 0) -> datetime:
    """Now shifted by `days` and `seconds` (negative = in the past)."""
    return now() + timedelta(days=days, seconds=seconds)


# --- keys (made with the real command-line tool) ------------------------------------------


def create_keys(env: dict[str, str], *specs: Sequence[str]) -> list[str]:
    """One key per spec (the arguments of `create`), made by concurrent runs of the key CLI."""
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "bullseye_ingestion", "keys", "create", *spec],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for spec in specs
    ]
    keys = []
    for run in runs:
        out, err = run.communicate()
        assert run.returncode == 0, err
        keys.append(out.strip())
    return keys


# --- calls --------------------------------------------------------------------------------


def stub(channel: grpc.aio.Channel) -> pb_grpc.IngestionServiceStub:
    return pb_grpc.IngestionServiceStub(channel)


def auth(key: str) -> list[tuple[str, str]]:
    return [("x-api-key", key)]


def key_id_of(key: str) -> str:
    """The id part of a `bk_<id>_<secret>` key."""
    return key.split("_", 2)[1]


async def batch(
    api: pb_grpc.IngestionServiceStub, key: str, events: Sequence[ev.Event], *, backfill: bool = False
) -> pb.BatchResult:
    reply = await api.TrackBatch(pb.TrackBatchRequest(events=events, backfill=backfill), metadata=auth(key))
    return reply.result


async def track(
    api: pb_grpc.IngestionServiceStub, key: str, one: ev.Event, *, backfill: bool = False
) -> pb.EventOutcome:
    reply = await api.Track(pb.TrackRequest(event=one, backfill=backfill), metadata=auth(key))
    return reply.outcome


async def failure(call: Any) -> grpc.aio.AioRpcError:
    """The error that awaiting `call` raises (fails the test if it succeeds)."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc
    raise AssertionError("the call succeeded; an error was expected")


async def drain(call: Any) -> list[Any]:
    """Every response of a streaming call, in order."""
    return [response async for response in call]


# --- rich errors (google.rpc.Status in the trailers) -------------------------------------


def rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The google.rpc.Status of a failed call, checked against its plain code and message."""
    for name, value in error.trailing_metadata() or ():
        if name == DETAILS_KEY:
            status = status_pb2.Status.FromString(value)
            assert status.code == error.code().value[0]
            assert status.message == error.details()
            return status
    raise AssertionError(f"no {DETAILS_KEY} in the trailers of {error.code().name}: {error.details()}")


def detail(error: grpc.aio.AioRpcError, kind: type[M]) -> M:
    """The one detail of type `kind` (BadRequest, RetryInfo, QuotaFailure, ErrorInfo)."""
    found = details(error, kind)
    assert len(found) == 1, f"expected one {kind.__name__} in the status, found {len(found)}"
    return found[0]


def details(error: grpc.aio.AioRpcError, kind: type[M]) -> list[M]:
    found = []
    for packed in rich_status(error).details:
        if packed.Is(kind.DESCRIPTOR):
            message = kind()
            packed.Unpack(message)
            found.append(message)
    return found


def field_violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
    """BadRequest field -> description."""
    bad = detail(error, error_details_pb2.BadRequest)
    return {v.field: v.description for v in bad.field_violations}


def reason(error: grpc.aio.AioRpcError) -> str:
    return detail(error, error_details_pb2.ErrorInfo).reason


def violations_of(outcome: pb.EventOutcome) -> dict[str, str]:
    return {v.field: v.description for v in outcome.violations}


# --- the EVENTS stream --------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """One message of the EVENTS stream, decoded."""

    seq: int
    subject: str
    msg_id: str
    event: ev.Event


async def last_seq(nc: NATS) -> int:
    """The stream's last sequence: read what a test stored with `stored_since(nc, mark)`."""
    info = await nc.jetstream().stream_info(STREAM)
    return int(info.state.last_seq)


async def stored_at(nc: NATS, seq: int) -> Stored:
    raw = await nc.jetstream().get_msg(STREAM, seq)
    headers = raw.headers or {}
    return Stored(seq, raw.subject or "", headers.get("Nats-Msg-Id", ""), ev.Event.FromString(raw.data or b""))


async def stored_since(nc: NATS, mark: int) -> list[Stored]:
    """Every message appended after sequence `mark`, in stream order."""
    end = await last_seq(nc)
    return [await stored_at(nc, seq) for seq in range(mark + 1, end + 1)]


async def copies(nc: NATS, mark: int, event_id: str) -> list[Stored]:
    """The stored copies of `event_id` appended after `mark`."""
    return [s for s in await stored_since(nc, mark) if s.event.event_id == event_id]


def without_receipt(stored: ev.Event) -> ev.Event:
    """The stored event with ingestion's receipt cleared, to compare with what was sent."""
    copy = ev.Event()
    copy.CopyFrom(stored)
    copy.ClearField("receipt")
    return copy


# --- sealed personal data (opened with the key identity issues for the event's subject) ----


async def data_key(identity_address: str, subject: str) -> DataKey:
    async with channels.channel(identity_address, caller="ingestion") as channel:
        reply = await id_grpc.IdentityServiceStub(channel).IssueDataKeys(
            id_pb.IssueDataKeysRequest(subjects=[subject]), timeout=10
        )
    return DataKey(reply.keys[0].key_id, reply.keys[0].secret)


async def opened_personal(identity_address: str, stored: ev.Event) -> ev.PersonalData:
    """The personal data of a stored event, which must hold it sealed and nothing in the clear."""
    sealed = sealing.sealed_of(stored)
    assert sealed is not None, "the stored event has no sealed_personal"
    assert sealing.personal_of(stored) is None, "personal data is stored in the clear"
    key = await data_key(identity_address, sealing.subject_of(stored.identifiers))
    return sealing.open_personal(sealed, key, stored.event_id)
