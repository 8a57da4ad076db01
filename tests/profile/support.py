"""Shared by the profile tests: a RESOLVED feed the tests write, and a real profile process.

Identity is not needed: the tests publish ResolvedRecord messages (events attributed to
persons, merges, splits) into a RESOLVED stream of their own, which is exactly profile's
input, and read the results through profile's gRPC API.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import nats.js.errors
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import resolved_pb2 as rs
from bullseye.identity.v1.identity_pb2 import IDENTIFIER_TYPE_USER_ID, IdentifierRef
from bullseye.ingestion.v1.ingestion_pb2 import TrackRequest
from bullseye.ingestion.v1.ingestion_pb2_grpc import IngestionServiceStub
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye.profile.v1 import profile_pb2_grpc as pb_grpc
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess
from bullseye_platform.eventlog import LogMessage, LogWriter, StreamSpec, ensure_stream, partition_of, subject_for
from google.protobuf.message import Message
from google.type import money_pb2
from nats.aio.client import Client as NATS

from tests import channels
from tests.conftest import service_env
from tests.platform.waiting import wait_until

PARTITIONS = 4
# The profile process's pinned clock in most tests: windows and recency are measured from it.
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
# Tables whose content is the profile projection's result (compared by rebuild tests).
PROJECTED = ("journal", "person_aliases")
# Whether a replay of RESOLVED was asked for and has not ended (bullseye_platform.replay).
REPLAYING = "SELECT count(*) FROM projection_replays WHERE projection = 'profile'"


def ago(days: float = 0, *, hours: float = 0, seconds: float = 0, now: datetime = NOW) -> datetime:
    return now - timedelta(days=days, hours=hours, seconds=seconds)


def usd(amount: float, currency: str = "USD") -> money_pb2.Money:
    units = int(amount)
    return money_pb2.Money(currency_code=currency, units=units, nanos=round((amount - units) * 1e9))


def event(when: datetime, *, event_id: str | None = None, timezone: str = "", **payload: Message) -> ev.Event:
    """An event of the kind named by the one keyword (`order_completed=ev.OrderCompleted(...)`)."""
    built = ev.Event(event_id=event_id or f"e-{uuid.uuid4()}", identifiers=ev.Identifiers(anonymous_id="a"))
    built.occurred_at.FromDatetime(when)
    built.context.timezone = timezone
    for kind, message in payload.items():
        getattr(built, kind).CopyFrom(message)
    return built


def view(when: datetime, **kw: Any) -> ev.Event:
    return event(when, page_viewed=ev.PageViewed(name="home"), **kw)


def order(when: datetime, amount: float, **kw: Any) -> ev.Event:
    return event(when, order_completed=ev.OrderCompleted(order_id=f"o-{uuid.uuid4()}", revenue=usd(amount)), **kw)


@dataclass
class ResolvedFeed:
    """Writes ResolvedRecord messages the way identity does (partitioned by person)."""

    nc: NATS
    spec: StreamSpec
    ends: dict[int, int] = field(default_factory=dict)

    async def events(self, person_id: str, *events: ev.Event) -> None:
        records = [rs.ResolvedRecord(event=rs.ResolvedEvent(person_id=person_id, event=e)) for e in events]
        kinds = [e.WhichOneof("payload") or "unknown" for e in events]
        await self._append(person_id, records, kinds, [f"r:{e.event_id}" for e in events])

    async def merged(self, survivor: str, merged: str) -> None:
        fact = rs.PersonsMerged(survivor_person_id=survivor, merged_person_id=merged, reason="manual")
        await self._append(merged, [rs.ResolvedRecord(merged=fact)], ["merged"], [f"m:{merged}:{survivor}"])

    async def split(self, person_id: str, new_person_id: str, moved_event_ids: Sequence[str]) -> None:
        fact = rs.PersonSplit(person_id=person_id, new_person_id=new_person_id, moved_event_ids=moved_event_ids)
        await self._append(person_id, [rs.ResolvedRecord(split=fact)], ["split"], [f"s:{new_person_id}"])

    async def _append(
        self, person_id: str, records: Sequence[rs.ResolvedRecord], kinds: Sequence[str], ids: Sequence[str]
    ) -> None:
        partition = partition_of(person_id, PARTITIONS)
        writer = LogWriter(self.nc)
        try:
            subjects = [subject_for(self.spec.subject_prefix, partition, kind) for kind in kinds]
            messages = [
                LogMessage(subject=subject, payload=r.SerializeToString(), msg_id=msg_id)
                for r, subject, msg_id in zip(records, subjects, ids, strict=True)
            ]
            appended = await writer.append(messages)
        finally:
            await writer.close()
        self.ends[partition] = max([self.ends.get(partition, 0), *(a.seq for a in appended)])


@dataclass
class ProfileUnderTest:
    """A profile process on its own schema, reading its own RESOLVED stream."""

    service: ServiceProcess
    schema: str
    feed: ResolvedFeed
    pool: asyncpg.Pool
    channel: grpc.aio.Channel

    @property
    def api(self) -> pb_grpc.ProfileServiceStub:
        return pb_grpc.ProfileServiceStub(self.channel)

    async def caught_up(self, *, within: float = 60.0) -> None:
        """Until the projection's stored position reaches everything the feed wrote."""
        await wait_until(self._reached_the_end, within=within, every=0.05)

    async def _reached_the_end(self) -> bool:
        assert self.service.proc is not None and self.service.proc.poll() is None, "profile died"
        rows = await self.pool.fetch(
            "SELECT partition, stream_seq FROM projection_positions WHERE projection = 'profile'"
        )
        reached = {r["partition"]: r["stream_seq"] for r in rows}
        return all(reached.get(p, 0) >= end for p, end in self.feed.ends.items())

    async def caught_up_with_the_chain(self, ingestion_address: str, api_key: str, *, within: float = 300.0) -> None:
        """Until everything sent to ingestion so far is in this profile: a process started on
        the session's streams first works through what earlier tests left there (a kill -9
        test's load). A marker sent now is resolved after every earlier event and published
        after their records; once it is here and no partition has a record past its position,
        nothing earlier is missing."""
        user = f"catch-up-{uuid.uuid4().hex}"
        marker = ev.Event(event_id=f"catch-up-{uuid.uuid4()}", identifiers=ev.Identifiers(user_id=user))
        marker.occurred_at.GetCurrentTime()
        marker.page_viewed.name = "catch-up"
        async with channels.channel(ingestion_address, caller=None) as opened:
            await IngestionServiceStub(opened).Track(TrackRequest(event=marker), metadata=[("x-api-key", api_key)])
        by_user = pb.GetProfileRequest(identifier=IdentifierRef(type=IDENTIFIER_TYPE_USER_ID, value=user))
        await wait_until(lambda: self._found(by_user), within=within, every=0.1)
        await wait_until(self._nothing_after_the_positions, within=within, every=0.1)

    async def _found(self, request: pb.GetProfileRequest) -> bool:
        try:
            await self.api.GetProfile(request)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND, exc
            return False
        return True

    async def _nothing_after_the_positions(self) -> bool:
        rows = await self.pool.fetch(
            "SELECT partition, stream_seq FROM projection_positions WHERE projection = 'profile'"
        )
        reached = {r["partition"]: r["stream_seq"] for r in rows}
        js = self.feed.nc.jetstream()
        for partition in range(PARTITIONS):
            subject = f"{self.feed.spec.subject_prefix}.{partition}.>"
            try:
                await js.get_msg(self.feed.spec.name, seq=reached.get(partition, 0) + 1, subject=subject, next=True)
            except nats.js.errors.NotFoundError:
                continue
            return False
        return True

    async def get(self, person_id: str, *, as_of: datetime | None = None) -> pb.Profile:
        request = pb.GetProfileRequest(person_id=person_id)
        if as_of is not None:
            request.as_of.FromDatetime(as_of)
        return (await self.api.GetProfile(request)).profile

    async def table_hash(self, tables: Sequence[str] = PROJECTED) -> str:
        """A digest of the tables' rows in a canonical order (what rebuild tests compare)."""
        digest = hashlib.sha256()
        for table in tables:
            rows = await self.pool.fetch(f"SELECT t::text AS row FROM {table} t ORDER BY t::text")
            for row in rows:
                digest.update(row["row"].encode() + b"\n")
        return digest.hexdigest()


def profile_env(
    nats_server: NatsServer, postgres: PostgresServer, *, token: str, stream: StreamSpec,
    fixed_now: datetime | None, schema: str, **extra: str,
) -> dict[str, str]:  # fmt: skip
    return service_env(
        nats_server, postgres,
        PROFILE_SCHEMA=schema, PROFILE_RESOLVED_STREAM=stream.name,
        PROFILE_RESOLVED_SUBJECT_PREFIX=stream.subject_prefix, PROFILE_RESOLVED_PARTITIONS=str(PARTITIONS),
        PROFILE_STREAM=f"PROFILE_{token.upper()}", PROFILE_SUBJECT_PREFIX=f"profile{token}",
        PROFILE_PARTITIONS=str(PARTITIONS), PROFILE_FIXED_NOW=fixed_now.isoformat() if fixed_now else "",
        PROFILE_CONSUMER=schema, **extra,  # one deployment per schema
    )  # fmt: skip


async def resolved_stream(nc: NATS, token: str) -> StreamSpec:
    spec = StreamSpec(name=f"RESOLVED_{token.upper()}", subject_prefix=f"resolved{token}")
    await ensure_stream(nc.jetstream(), spec)
    return spec


async def start_profile(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, log_dir: Path, *, fixed_now: datetime | None = NOW,
    stream: StreamSpec | None = None, schema: str | None = None, **extra: str,
) -> ProfileUnderTest:  # fmt: skip
    """A profile process with its own schema (and its own RESOLVED stream unless one is given)."""
    token = uuid.uuid4().hex[:8]
    stream = stream or await resolved_stream(nc, token)
    schema = schema or f"profile_{token}"
    env = profile_env(nats_server, postgres, token=token, stream=stream, fixed_now=fixed_now, schema=schema, **extra)
    service = await asyncio.to_thread(ServiceProcess("profile", "bullseye_profile", env, log_dir / token).start)
    pool = await asyncpg.create_pool(postgres.dsn, min_size=1, max_size=2, server_settings={"search_path": schema})
    assert pool is not None
    channel = channels.channel(service.address)
    return ProfileUnderTest(service, schema, ResolvedFeed(nc, stream), pool, channel)


async def start_profile_on_identity(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, log_dir: Path, identity: ServiceProcess
) -> ProfileUnderTest:
    """Profile on identity's own RESOLVED stream, on the wall clock, asking identity for identifiers."""
    resolved = StreamSpec(name="RESOLVED", subject_prefix="resolved")
    return await start_profile(
        nc, nats_server, postgres, log_dir, fixed_now=None, stream=resolved, PROFILE_IDENTITY_ADDRESS=identity.address
    )


async def stop_profile(profile: ProfileUnderTest) -> None:
    await profile.channel.close()
    await profile.pool.close()
    await asyncio.to_thread(profile.service.stop)


@contextlib.asynccontextmanager
async def profile_running(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, **extra: str
) -> AsyncIterator[ProfileUnderTest]:
    """A profile process configured by `extra` (PROFILE_* variables) for one fixture's life."""
    started = await start_profile(nc, nats_server, postgres, stack_dir / "logs", **extra)
    try:
        yield started
    finally:
        await stop_profile(started)


async def rebuild(env: dict[str, str], *, service: str = "bullseye_profile") -> None:
    """Run a service's real `rebuild` command (profile's unless told) with its process's environment."""
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", service, "rebuild"], env={**os.environ, **env},
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
