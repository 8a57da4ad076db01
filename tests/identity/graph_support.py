"""Shared by the graph tests: events with chosen identifiers, sending them through ingestion,
and reading what identity published on RESOLVED. Public surfaces only: the gRPC APIs and
the streams.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import correction_pb2 as cpb
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye.identity.v1 import resolved_pb2 as rpb
from bullseye.ingestion.v1 import ingestion_pb2 as ipb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ipb_grpc
from nats.aio.client import Client as NATS

RESOLVED = "RESOLVED"
USER, EMAIL, PHONE = pb.IDENTIFIER_TYPE_USER_ID, pb.IDENTIFIER_TYPE_EMAIL, pb.IDENTIFIER_TYPE_PHONE
DEVICE, ANON = pb.IDENTIFIER_TYPE_DEVICE_ID, pb.IDENTIFIER_TYPE_ANONYMOUS_ID


def uid(kind: str) -> str:
    """A value no other test uses."""
    return f"{kind}-{uuid.uuid4().hex[:12]}"


_PHONES = itertools.count(1)


def unique_phone() -> str:
    """A valid mobile number no other test of this session gives (each session, one per test
    worker, has its own identity): a number several tests give links their persons."""
    return f"+33780{next(_PHONES):06d}"


def event(
    *, user: str = "", anon: str = "", device: str = "", minutes_ago: float = 0, event_id: str = "",
    **payload: object,
) -> ev.Event:  # fmt: skip
    """An event with these identifiers (a page view unless a payload is given as kind=message)."""
    built = ev.Event(
        event_id=event_id or str(uuid.uuid4()),
        identifiers=ev.Identifiers(user_id=user, anonymous_id=anon, device_id=device),
    )
    built.occurred_at.FromDatetime(datetime.now(UTC) - timedelta(minutes=minutes_ago))
    kind, message = next(iter(payload.items())) if payload else ("page_viewed", ev.PageViewed(name="home"))
    getattr(built, kind).CopyFrom(message)
    return built


def identified(*, email: str = "", phone: str = "", first_name: str = "", **ids: str) -> ev.Event:
    personal = ev.PersonalData(email=email, phone=phone, first_name=first_name)
    return event(**ids, identified=ev.Identified(personal=personal))


def ref(kind: pb.IdentifierType.ValueType, value: str) -> pb.IdentifierRef:
    return pb.IdentifierRef(type=kind, value=value)


async def send(front: ipb_grpc.IngestionServiceStub, key: str, events: Sequence[ev.Event]) -> None:
    """Through ingestion, in order (one batch: the stream keeps their order)."""
    reply = await front.TrackBatch(ipb.TrackBatchRequest(events=events), metadata=[("x-api-key", key)], timeout=30)
    assert reply.result.accepted == len(events), reply.result


@dataclass(frozen=True)
class Published:
    """One RESOLVED message, decoded."""

    seq: int
    subject: str
    headers: dict[str, str]
    record: rpb.ResolvedRecord

    @property
    def msg_id(self) -> str:
        return self.headers.get("Nats-Msg-Id", "")

    @property
    def kind(self) -> str:
        return self.record.WhichOneof("kind") or ""


class ResolvedLog:
    """Reads RESOLVED from a mark: what the current test caused comes after it."""

    def __init__(self, nc: NATS, stream: str = RESOLVED) -> None:
        self._js, self._stream = nc.jetstream(), stream
        self.mark = 0
        self.read: list[Published] = []

    async def start(self) -> ResolvedLog:
        self.mark = int((await self._js.stream_info(self._stream)).state.last_seq)
        return self

    async def _more(self) -> None:
        last = int((await self._js.stream_info(self._stream)).state.last_seq)
        first = self.read[-1].seq + 1 if self.read else self.mark + 1
        for seq in range(first, last + 1):
            raw = await self._js.get_msg(self._stream, seq)
            record = rpb.ResolvedRecord.FromString(raw.data or b"")
            self.read.append(Published(seq, raw.subject or "", dict(raw.headers or {}), record))

    async def until_resolved(self, events: Iterable[ev.Event], *, within: float = 30.0) -> list[Published]:
        """Every message since the mark, once each of `events` has its ResolvedEvent."""
        wanted = {e.event_id for e in events}
        async with asyncio.timeout(within):
            while True:
                await self._more()
                seen = {p.record.event.event.event_id for p in self.read if p.kind == "event"}
                if wanted <= seen:
                    return list(self.read)
                await asyncio.sleep(0.05)

    def person_of(self, one: ev.Event) -> str:
        """The person `one` was published with."""
        found = [
            p.record.event.person_id
            for p in self.read
            if p.kind == "event" and p.record.event.event.event_id == one.event_id
        ]
        assert len(found) == 1, f"{len(found)} ResolvedEvents for {one.event_id}"
        return found[0]

    def final_person_of(self, one: ev.Event) -> str:
        """The person `one` belongs to after the merges and splits published after its record
        (the stream is in identity's order: a fold in that order is what consumers make)."""
        person, after = "", False
        for p in self.read:
            if p.kind == "event" and p.record.event.event.event_id == one.event_id:
                person, after = p.record.event.person_id, True
            elif after and p.kind == "split" and one.event_id in p.record.split.moved_event_ids:
                person = p.record.split.new_person_id
            elif after and p.kind == "merged" and p.record.merged.merged_person_id == person:
                person = p.record.merged.survivor_person_id
        assert after, f"no ResolvedEvent for {one.event_id}"
        return person

    def splits(self) -> list[rpb.PersonSplit]:
        return [p.record.split for p in self.read if p.kind == "split"]

    def partition_of(self, person_id: str) -> str:
        """The partition token of the person's records, as published."""
        found = {
            p.subject.split(".")[1] for p in self.read if p.kind == "event" and p.record.event.person_id == person_id
        }
        assert len(found) == 1, f"{person_id} has records in partitions {found}"
        return found.pop()

    def merges(self) -> list[rpb.PersonsMerged]:
        return [p.record.merged for p in self.read if p.kind == "merged"]


async def corrections_since(nc: NATS, mark: int, stream: str = "EVENTS") -> list[tuple[bytes, cpb.IdentityCorrection]]:
    """(payload, decoded) of every correction record appended to EVENTS after sequence `mark`."""
    js = nc.jetstream()
    found = []
    for seq in range(mark + 1, int((await js.stream_info(stream)).state.last_seq) + 1):
        raw = await js.get_msg(stream, seq)
        if (raw.subject or "").endswith(".identity_correction"):
            found.append((raw.data or b"", cpb.IdentityCorrection.FromString(raw.data or b"")))
    return found


async def resolve(graph: pb_grpc.IdentityServiceStub, *refs: pb.IdentifierRef) -> str:
    reply = await graph.Resolve(pb.ResolveRequest(identifiers=refs), timeout=10)
    return reply.person_id


async def resolve_fails(graph: pb_grpc.IdentityServiceStub, *refs: pb.IdentifierRef) -> grpc.StatusCode:
    try:
        await graph.Resolve(pb.ResolveRequest(identifiers=refs), timeout=10)
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    raise AssertionError("Resolve succeeded; an error was expected")


async def history(graph: pb_grpc.IdentityServiceStub, person_id: str) -> list[pb.HistoryEntry]:
    return list((await graph.GetHistory(pb.GetHistoryRequest(person_id=person_id), timeout=10)).entries)
