"""Identity can be rebuilt from EVENTS, corrections included.

A stack of this module's own (ingestion, identity and profile on streams and schemas of
their own) takes shoppers' events (merges, conflicts, personal data, family apps and a kiosk
whose shared values heal the persons they glued: automatic splits), operators' merges and
splits (some refused) and more events after them. Then identity and profile are stopped,
emptied with their real rebuild commands, and replay from empty, identity killed with
SIGKILL mid-replay once: identity's tables, RESOLVED and every profile equal the live ones.
With the resolver away, a Merge answers UNAVAILABLE, and its retry the outcome of the one
command.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import grpc
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ipb_grpc
from bullseye.profile.v1 import profile_pb2 as ppb
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess, service_socket
from bullseye_platform.eventlog import StreamSpec
from nats.aio.client import Client as NATS

from tests.channels import channel
from tests.conftest import create_key, service_env
from tests.identity.graph_support import (
    ANON,
    EMAIL,
    USER,
    corrections_since,
    event,
    identified,
    ref,
    resolve,
    send,
    uid,
)
from tests.identity.resolver_support import Resolver, graph_of, resolver, stream_of
from tests.ingestion.helpers import failure, reason
from tests.platform.waiting import wait_until
from tests.profile.support import ProfileUnderTest, rebuild, start_profile, stop_profile, usd

SHOPPERS = 100  # ~750 records: replayed one per transaction, they take seconds; the kill lands inside


@dataclass
class OwnStack:
    identity: Resolver  # as configured; `current` is the process running now
    ingestion: ServiceProcess
    events: StreamSpec
    key: str
    now: datetime  # profile's pinned clock, after every event
    current: Resolver

    @property
    def identity_address(self) -> str:
        assert self.identity.socket is not None
        return f"unix:{self.identity.socket}"

    @property
    def resolved(self) -> StreamSpec:
        env = self.identity.env
        return StreamSpec(name=env["IDENTITY_STREAM"], subject_prefix=env["IDENTITY_SUBJECT_PREFIX"])

    def restart_identity(self, **settings: str) -> Resolver:
        """Identity stopped, then started on the same socket with `settings` (none: as configured)."""
        self.stop_identity()
        self.current = Resolver({**self.identity.env, **settings}, self.identity.log_dir, socket=self.identity.socket)
        self.current.start()
        return self.current

    def stop_identity(self) -> None:
        if self.current.proc is not None:
            self.current.proc.stop()

    async def last_seq(self, nc: NATS) -> int:
        return int((await nc.jetstream().stream_info(self.events.name)).state.last_seq)

    async def settled(self, nc: NATS, pg: asyncpg.Connection) -> None:
        """Until identity resolved everything in EVENTS and relayed every fact to RESOLVED."""
        last = await self.last_seq(nc)
        await wait_until(lambda: self.identity.done(pg, last), within=120, every=0.05)


@pytest.fixture(scope="module")
async def own(nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, nc: NATS) -> AsyncIterator[OwnStack]:
    tag = uuid.uuid4().hex[:6]
    events = StreamSpec(name=f"EVENTS_RB{tag.upper()}", subject_prefix=f"eventsrb{tag}")
    identity = resolver(nats_server, postgres, events, f"rb{tag}", stack_dir / "logs", batch=64)
    # Both addresses known before either starts, and kept across identity's restarts.
    identity.socket, ingestion_socket = (service_socket(identity.log_dir, name) for name in ("identity", "ingestion"))
    identity.env["IDENTITY_INGESTION_ADDRESS"] = f"unix:{ingestion_socket}"
    ingestion_env = service_env(
        nats_server, postgres, INGESTION_SCHEMA=f"ingestion_rb{tag}", INGESTION_STREAM=events.name,
        INGESTION_SUBJECT_PREFIX=events.subject_prefix, INGESTION_CATALOG_STREAM=f"CATALOG_RB{tag.upper()}",
        INGESTION_CATALOG_SUBJECT_PREFIX=f"catalogrb{tag}", INGESTION_IDENTITY_ADDRESS=f"unix:{identity.socket}",
    )  # fmt: skip
    await asyncio.to_thread(identity.start)
    ingestion = ServiceProcess(
        "ingestion", "bullseye_ingestion", ingestion_env, identity.log_dir, socket=ingestion_socket
    )
    await asyncio.to_thread(ingestion.start)
    key = await asyncio.to_thread(create_key, ingestion_env, "--source", "rebuild-test")
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    stack = OwnStack(identity, ingestion, events, key, now, current=identity)
    yield stack
    ingestion.stop()
    stack.stop_identity()


def line(order_id: str, amount: float) -> ev.OrderCompleted:
    item = ev.LineItem(product_id="sku-1", quantity=1, unit_price=usd(amount), category="knives", brand="Kiruna")
    return ev.OrderCompleted(order_id=order_id, items=[item], revenue=usd(amount))


def shoppers_events(users: list[str], phones: list[str], laptops: list[str], strays: list[str]) -> list[ev.Event]:
    """Two devices per shopper joined by a login (merges), an email (a contact), an order, a
    stray browser of theirs, family tablets on which two accounts log in (shared devices),
    family apps handed over (the next member's browsing follows the app's device id to the
    first, until their login takes it back: automatic splits) and a kiosk's e-receipts."""
    made = []
    for user, phone, laptop, stray in zip(users, phones, laptops, strays, strict=True):
        made += [
            event(anon=phone, minutes_ago=50), event(anon=laptop, minutes_ago=49),
            event(anon=phone, user=user, minutes_ago=48, logged_in=ev.LoggedIn(method="password")),
            event(anon=laptop, user=user, minutes_ago=47, logged_in=ev.LoggedIn(method="password")),
            identified(email=f"{user}@example.com", first_name="Ann", user=user, anon=phone),
            event(user=user, minutes_ago=45, order_completed=line(f"o-{user}", 30)), event(anon=stray, minutes_ago=44),
        ]  # fmt: skip
    for first, second in zip(users[0:SHOPPERS:5], users[1:SHOPPERS:5], strict=True):
        tablet = uid("tablet")
        made += [event(anon=tablet, user=who, minutes_ago=40, logged_in=ev.LoggedIn()) for who in (first, second)]
    for first, second in zip(users[2:SHOPPERS:5], users[3:SHOPPERS:5], strict=True):
        app, firsts, seconds = uid("app"), uid("anon"), uid("anon")
        made += [
            event(anon=firsts, device=app, user=first, minutes_ago=39, logged_in=ev.LoggedIn()),
            event(anon=seconds, device=app, minutes_ago=38), event(anon=seconds, device=app, minutes_ago=38),
            event(anon=seconds, device=app, user=second, minutes_ago=37, logged_in=ev.LoggedIn()),
        ]  # fmt: skip
    kiosk, install = uid("kiosk"), uid("anon")
    receipts = [f"receipt-{user}@example.com" for user in users[4:SHOPPERS:25]]  # guests' addresses, new here
    made += [event(anon=install, device=kiosk, minutes_ago=36, order_completed=line(f"o-cash-{kiosk}", 9))]
    made += [identified(anon=install, device=kiosk, email=address) for address in receipts]
    made += [identified(user=user, email=address) for user, address in zip(users[4:SHOPPERS:25], receipts, strict=True)]
    return made


async def shop(own: OwnStack, nc: NATS, pg: asyncpg.Connection) -> None:
    users, phones, laptops, strays = ([uid(kind) for _ in range(SHOPPERS)] for kind in ("user", "phone", "pc", "stray"))
    async with channel(own.ingestion.address) as to_ingestion, channel(own.identity_address) as to_identity:
        front, graph = ipb_grpc.IngestionServiceStub(to_ingestion), pb_grpc.IdentityServiceStub(to_identity)
        made = shoppers_events(users, phones, laptops, strays)
        for start in range(0, len(made), 400):
            await send(front, own.key, made[start : start + 400])
        await own.settled(nc, pg)
        person = [await resolve(graph, ref(USER, user)) for user in users]
        for i, stray in enumerate(strays[:8]):
            lost = await resolve(graph, ref(ANON, stray))
            await graph.Merge(
                pb.MergeRequest(person_id=lost, other_person_id=person[i], reason="same card"), timeout=30
            )
        refused = await failure(
            graph.Merge(pb.MergeRequest(person_id=person[10], other_person_id=person[11], reason="x"))
        )
        assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
        unknown = await failure(
            graph.Merge(pb.MergeRequest(person_id="nobody", other_person_id=person[12], reason="x"))
        )
        assert unknown.code() == grpc.StatusCode.NOT_FOUND
        for i in range(20, 25):
            off = pb.SplitRequest(person_id=person[i], identifiers=[ref(ANON, laptops[i])], reason="a shared laptop")
            await graph.Split(off, timeout=30)
        typo = pb.SplitRequest(
            person_id=person[25], identifiers=[ref(EMAIL, f"{users[25]}@example.com")], reason="typo"
        )
        await graph.Split(typo, timeout=30)
        later = [
            event(anon=laptops[20]), event(user=users[0], order_completed=line(f"o2-{users[0]}", 12)),
            identified(email=f"new-{users[3]}@example.com", user=users[3]),
        ]  # fmt: skip
        await send(front, own.key, later)
    await own.settled(nc, pg)


@dataclass(frozen=True)
class Snapshot:
    graph: dict[str, list[tuple[object, ...]]]
    resolved: list[tuple[str, str, bytes]]
    profiles: dict[str, bytes]
    profile_tables: str
    contacts: dict[str, str]


async def snapshot(own: OwnStack, nc: NATS, pg: asyncpg.Connection, profile: ProfileUnderTest) -> Snapshot:
    graph = await graph_of(pg, own.identity.schema)
    resolved = await stream_of(nc, own.identity)
    ends: dict[int, int] = {}
    for seq, (subject, _, _) in enumerate(resolved, 1):
        ends[int(subject.split(".")[1])] = seq
    profile.feed.ends.update(ends)
    await profile.caught_up(within=120)
    await profile.api.RecomputeRfm(ppb.RecomputeRfmRequest())
    persons = sorted(str(row[0]) for row in graph["persons"])
    profiles = {}
    for start in range(0, len(persons), 100):
        reply = await profile.api.BatchGetProfiles(ppb.BatchGetProfilesRequest(person_ids=persons[start : start + 100]))
        profiles.update({p.person_id: p.SerializeToString(deterministic=True) for p in reply.profiles})
    tables = await profile.table_hash(("journal", "person_aliases", "rfm_scores", "population_stats"))
    live = [str(row[0]) for row in graph["persons"] if row[3] is None]
    return Snapshot(graph, resolved, profiles, tables, await contacts(own, live))


async def contacts(own: OwnStack, persons: list[str]) -> dict[str, str]:
    """Every person's deliverable email as GetContact opens it from the vault ('' when none)."""
    found = {}
    async with channel(own.identity_address) as to_identity:
        graph = pb_grpc.IdentityServiceStub(to_identity)
        for person in persons:
            asked = pb.GetContactRequest(person_id=person, channel=pb.CONTACT_CHANNEL_EMAIL)
            try:
                found[person] = (await graph.GetContact(asked, timeout=10)).address
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.NOT_FOUND, exc
                found[person] = ""
    return found


async def start_profile_on(own: OwnStack, nc: NATS, nats_server: NatsServer, postgres: PostgresServer,
                           log_dir: Path) -> ProfileUnderTest:  # fmt: skip
    return await start_profile(
        nc, nats_server, postgres, log_dir, fixed_now=own.now, stream=own.resolved,
        schema=f"profile_{own.identity.schema}",
    )  # fmt: skip


async def test_with_the_resolver_away_a_merge_is_unavailable_and_its_retry_gets_the_one_outcome(
    own: OwnStack, nc: NATS, pg: asyncpg.Connection
) -> None:
    first, second = uid("anon"), uid("anon")
    async with channel(own.ingestion.address) as to_ingestion:
        await send(ipb_grpc.IngestionServiceStub(to_ingestion), own.key, [event(anon=first), event(anon=second)])
    await own.settled(nc, pg)
    async with channel(own.identity_address) as to_identity:
        graph = pb_grpc.IdentityServiceStub(to_identity)
        asked = pb.MergeRequest(person_id=await resolve(graph, ref(ANON, first)), reason="one household",
                                other_person_id=await resolve(graph, ref(ANON, second)))  # fmt: skip
    mark = await own.last_seq(nc)
    await asyncio.to_thread(own.restart_identity, IDENTITY_RESOLVER="false")
    async with channel(own.identity_address) as to_identity:
        error = await failure(pb_grpc.IdentityServiceStub(to_identity).Merge(asked, timeout=8))  # answers ~0.8 s before
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert reason(error) == "CORRECTION_PENDING" and "recorded in EVENTS" in (error.details() or "")

    await asyncio.to_thread(own.restart_identity)
    async with channel(own.identity_address) as to_identity:
        graph = pb_grpc.IdentityServiceStub(to_identity)
        reply = await graph.Merge(asked, timeout=30)
        merged = await graph.GetHistory(pb.GetHistoryRequest(person_id=reply.merged_person_id), timeout=10)
    assert {reply.survivor_person_id, reply.merged_person_id} == {asked.person_id, asked.other_person_id}
    assert [e.kind for e in merged.entries] == [pb.HISTORY_ENTRY_KIND_MERGED]
    assert len(await corrections_since(nc, mark, own.events.name)) == 1


async def test_identity_and_profile_rebuilt_from_empty_equal_the_live_ones_also_after_kill_9_mid_replay(
    own: OwnStack, nc: NATS, pg: asyncpg.Connection, nats_server: NatsServer, postgres: PostgresServer,
    stack_dir: Path,
) -> None:  # fmt: skip
    await shop(own, nc, pg)
    profile = await start_profile_on(own, nc, nats_server, postgres, stack_dir / "logs")
    live = await snapshot(own, nc, pg, profile)
    outcomes = [row[1] for row in live.graph["corrections"]]
    assert outcomes.count("merge") >= 10 and outcomes.count("split") == 6, "the workload has its corrections"
    assert {row[1] for row in live.graph["history"]} >= {"merged", "split", "shared"}
    assert {row[4] for row in live.graph["history"] if row[1] == "split"} >= {
        "contradicted", "shared-value", "a shared laptop"
    }  # fmt: skip
    assert {row[4] for row in live.graph["shared_values"]} >= {"limit:user_id=1", "weak:email"}
    assert any(live.contacts.values()) and len(live.profiles) > SHOPPERS

    await stop_profile(profile)
    await asyncio.to_thread(own.stop_identity)
    await rebuild(own.identity.env, service="bullseye_identity")
    await rebuild(dict(profile.service.env))
    schema = own.identity.schema
    assert await pg.fetchval(f'SELECT count(*) FROM "{schema}".resolutions') == 0
    assert await pg.fetchval(f'SELECT count(*) FROM "{schema}".corrections') == 0
    assert await pg.fetchval(f'SELECT count(*) FROM "{schema}".data_keys') > 0, "data keys are never emptied"
    assert (await nc.jetstream().stream_info(own.resolved.name)).state.messages == 0

    # One record per transaction, killed once it has committed some: mid-replay.
    victim = await asyncio.to_thread(own.restart_identity, IDENTITY_BATCH_SIZE="1")
    await wait_until(lambda: _past(victim, pg), within=60, every=0.005)
    assert victim.proc is not None
    victim.proc.kill()
    killed_at, last = await victim.position(pg), await own.last_seq(nc)
    assert 0 < killed_at < last, f"killed at {killed_at} of {last}: not mid-replay"
    await asyncio.to_thread(own.restart_identity)
    await own.settled(nc, pg)
    replayed = await start_profile_on(own, nc, nats_server, postgres, stack_dir / "logs")
    try:
        rebuilt = await snapshot(own, nc, pg, replayed)
    finally:
        await stop_profile(replayed)
    assert rebuilt.graph == live.graph
    assert rebuilt.resolved == live.resolved
    assert rebuilt.profiles == live.profiles
    assert rebuilt.profile_tables == live.profile_tables
    assert rebuilt.contacts == live.contacts


async def _past(process: Resolver, pg: asyncpg.Connection) -> bool:
    return await process.position(pg) > 0
