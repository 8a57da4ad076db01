"""A campaign under test with everything it talks to running as in production: ingestion and
identity (the session's), a profile of its own (reading the session's RESOLVED, writing its own
PROFILE), the campaign process on its own schema and stream, and the channel sinks (a real SMTP
server and an HTTP receiver) in the test's event loop.

Shoppers are made the way a shop makes them: events through ingestion with an API key (an
identify with personal data and traits, consent statements), so identity's vault holds their
addresses and profile's segments hold them as members.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import grpc
from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import campaign_pb2_grpc as apb_grpc
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import facts_pb2 as fpb
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as ipb
from bullseye.identity.v1 import identity_pb2_grpc as ipb_grpc
from bullseye.ingestion.v1 import ingestion_pb2 as ingest_pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ingest_grpc
from bullseye.profile.v1 import segments_pb2 as spb
from bullseye_devtools.sinks import ChannelSinks
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess
from bullseye_platform.eventlog import StreamSpec
from google.type import money_pb2
from nats.aio.client import Client as NATS

from tests import channels
from tests.conftest import service_env
from tests.platform.waiting import wait_until
from tests.profile.support import ProfileUnderTest, start_profile, stop_profile

RESOLVED = StreamSpec(name="RESOLVED", subject_prefix="resolved")
PARTITIONS = "4"  # of RESOLVED and PROFILE in the session (tests/conftest.py)
C = cpb.Channel
QUICK = {  # timers of the test stack: a job lane looks at least every second
    "CAMPAIGN_JOB_POLL": "1s", "CAMPAIGN_PAUSED_RECHECK": "1s", "CAMPAIGN_GUARDRAIL_POLL": "1s",
    "CAMPAIGN_RETRY_FIRST": "0.2s", "CAMPAIGN_RETRY_MOST": "1s", "CAMPAIGN_BROADCAST_SETTLE": "30s",
}  # fmt: skip


def token() -> str:
    return uuid.uuid4().hex[:8]


@dataclass
class Shopper:
    """A shopper as the shop knows them: their user id, and the person identity made of them."""

    user_id: str
    anonymous_id: str
    person_id: str = ""
    email: str = ""
    timezone: str = "Europe/Paris"


@dataclass
class CampaignStack:
    campaign: ServiceProcess
    profile: ProfileUnderTest
    sinks: ChannelSinks
    env: dict[str, str]
    pool: asyncpg.Pool
    key: str
    channel: grpc.aio.Channel
    front: grpc.aio.Channel
    graph: grpc.aio.Channel
    schema: str
    log_dir: Path
    shoppers: list[Shopper] = field(default_factory=list)

    @property
    def api(self) -> apb_grpc.CampaignServiceStub:
        return apb_grpc.CampaignServiceStub(self.channel)

    async def track(self, *events: ev.Event) -> None:
        stub = ingest_grpc.IngestionServiceStub(self.front)
        for start in range(0, len(events), 500):
            reply = await stub.TrackBatch(ingest_pb.TrackBatchRequest(events=events[start : start + 500]),
                                          metadata=[("x-api-key", self.key)])  # fmt: skip
            assert all(o.status == ingest_pb.EVENT_STATUS_ACCEPTED for o in reply.result.outcomes), reply

    async def person_of(self, user_id: str) -> str:
        graph = ipb_grpc.IdentityServiceStub(self.graph)
        found: list[str] = []

        async def resolved() -> bool:
            ref = ipb.IdentifierRef(type=ipb.IDENTIFIER_TYPE_USER_ID, value=user_id)
            try:
                found.append((await graph.Resolve(ipb.ResolveRequest(identifiers=[ref]))).person_id)
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                return False
            return True

        await wait_until(resolved, within=60, every=0.1)
        return found[0]

    async def shoppers_of(
        self, cohort: str, count: int, *, first: int = 0, consent: Sequence[str] = ("email",), **kwargs: object
    ) -> list[Shopper]:
        """`count` shoppers of `cohort` (a custom trait segments select on), made through ingestion
        (numbered from `first`; `consent` and `kwargs` go to `shopper_events`), once campaign has
        folded their consent. Campaign reads consent from RESOLVED and segment changes from
        PROFILE: its RESOLVED consumer may run behind, and a segment then holds a person whose
        consent it has not seen yet (a broadcast rightly skips them: "no marketing consent")."""
        made = [Shopper(f"u-{cohort}-{n}", f"a-{cohort}-{n}") for n in range(first, first + count)]
        await self.track(*[e for s in made for e in shopper_events(s, cohort, consent=consent, **kwargs)])  # type: ignore[arg-type]
        for shopper in made:
            shopper.person_id = await self.person_of(shopper.user_id)
        persons = [s.person_id for s in made]
        query = "SELECT count(*) >= $2 FROM consent_statements WHERE person_id = ANY($1::text[])"
        await self.until(lambda: self.pool.fetchval(query, persons, count * len(consent)))
        return made

    async def segment(self, cohort: str, members: int) -> str:
        """A segment of the cohort in profile, once campaign's view of it holds `members` persons."""
        segment_id = f"cohort-{cohort}"
        rule = spb.Rule(compare=spb.Compare(field="traits.custom.cohort", op=spb.OPERATOR_EQ,
                                            value=spb.Literal(string_value=cohort)))  # fmt: skip
        await self.profile.api.CreateSegment(spb.CreateSegmentRequest(segment=spb.Segment(
            segment_id=segment_id, name=f"cohort {cohort}", rule=rule)))  # fmt: skip
        await self.members(segment_id, members)
        return segment_id

    async def members(self, segment_id: str, count: int) -> None:
        query = "SELECT count(*) FROM segment_members WHERE segment_id = $1"
        await self.until(lambda: self._equals(query, count, segment_id))

    async def _equals(self, query: str, wanted: int, *args: object) -> bool:
        return int(await self.pool.fetchval(query, *args)) == wanted

    async def until(self, check: Callable[[], Awaitable[bool]], *, within: float = 90) -> None:
        async def alive_and(check_: Callable[[], Awaitable[bool]] = check) -> bool:
            assert self.campaign.proc is not None and self.campaign.proc.poll() is None, "campaign died"
            return await check_()

        await wait_until(alive_and, within=within, every=0.1)

    async def launched(self, campaign: cpb.Campaign) -> cpb.Campaign:
        created = (await self.api.CreateCampaign(apb.CreateCampaignRequest(campaign=campaign))).campaign
        request = apb.LaunchCampaignRequest(campaign_id=created.campaign_id, expected_version=created.version)
        return (await self.api.LaunchCampaign(request)).campaign

    async def facts(self, nc: NATS) -> list[tuple[str, fpb.CampaignRecord]]:
        """(kind, record) of every fact on the campaign's stream, in stream order."""
        js, stream = nc.jetstream(), self.env["CAMPAIGN_STREAM"]
        last = (await js.stream_info(stream)).state.last_seq
        found = []
        for seq in range(1, last + 1):
            message = await js.get_msg(stream, seq)
            found.append((message.subject.split(".", 2)[2], fpb.CampaignRecord.FromString(message.data or b"")))
        return found

    async def decisions(self, campaign_id: str) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT person_id, occurrence_id, outcome, record FROM decisions WHERE campaign_id = $1", campaign_id
        )

    async def decided(self, campaign_id: str, count: int) -> None:
        """Until `count` final decisions of the campaign are recorded."""
        query = "SELECT count(*) FROM decisions WHERE campaign_id = $1 AND outcome <> 3"
        await self.until(lambda: self._equals(query, count, campaign_id))


def shopper_events(
    shopper: Shopper, cohort: str, *, consent: Sequence[str] = ("email",), timezone: str = "Europe/Paris",
    phone: bool = False, device: bool = False, at: datetime | None = None,
) -> list[ev.Event]:  # fmt: skip
    """An identify (traits with the cohort, an email, maybe a phone and an app device) and a
    marketing consent statement per channel in `consent`, 10 minutes ago by default."""
    when = at or datetime.now(UTC) - timedelta(minutes=10)
    shopper.email, shopper.timezone = f"{shopper.user_id}@example.com", timezone
    number = "+336" + str(abs(hash(shopper.user_id)) % 10**8).rjust(8, "0") if phone else ""
    personal = ev.PersonalData(email=shopper.email, first_name="Sam", phone=number)
    traits = ev.Traits(custom={"cohort": cohort})
    identify = _event(shopper, when, identified=ev.Identified(traits=traits, personal=personal))
    identify.context.timezone = timezone
    if device:
        identify.identifiers.device_id = f"d-{shopper.user_id}"
    statements = [_event(shopper, when + timedelta(seconds=1), consent_changed=ev.ConsentChanged(
        purpose=ev.CONSENT_PURPOSE_MARKETING, channel=getattr(ev, f"CONTACT_CHANNEL_{c.upper()}"), granted=True,
        source="signup-form")) for c in consent]  # fmt: skip
    return [identify, *statements]


def _event(shopper: Shopper, when: datetime, **payload: object) -> ev.Event:
    built = ev.Event(event_id=str(uuid.uuid4()), identifiers=ev.Identifiers(anonymous_id=shopper.anonymous_id,
                                                                           user_id=shopper.user_id))  # fmt: skip
    built.occurred_at.FromDatetime(when)
    for kind, message in payload.items():
        getattr(built, kind).CopyFrom(message)
    return built


def event_of(shopper: Shopper, *, at: datetime | None = None, **payload: object) -> ev.Event:
    """An event of the shopper now (in their time zone, which campaign keeps by event)."""
    made = _event(shopper, at or datetime.now(UTC), **payload)
    made.context.timezone = shopper.timezone
    return made


def money(amount: float, currency: str = "EUR") -> money_pb2.Money:
    units = int(amount)
    return money_pb2.Money(currency_code=currency, units=units, nanos=round((amount - units) * 1e9))


def order(shopper: Shopper, amount: float, *, order_id: str = "", at: datetime | None = None) -> ev.Event:
    """An order of one line worth `amount` euros."""
    line = ev.LineItem(product_id="p-1", quantity=1, unit_price=money(amount))
    placed = ev.OrderCompleted(order_id=order_id or f"o-{token()}", items=[line], revenue=money(amount))
    return event_of(shopper, at=at, order_completed=placed)


def campaign_env(
    nats_server: NatsServer, postgres: PostgresServer, *, identity: ServiceProcess, profile: ProfileUnderTest,
    schema: str, tag: str, **extra: str,
) -> dict[str, str]:  # fmt: skip
    """A campaign process's settings: its own schema and stream, the session's RESOLVED, the
    profile's PROFILE, identity and profile to call, and the test stack's quick timers."""
    profile_token = profile.schema.removeprefix("profile_")
    return service_env(
        nats_server, postgres, CAMPAIGN_SCHEMA=schema, CAMPAIGN_STREAM=f"CAMPAIGN_{tag.upper()}",
        CAMPAIGN_SUBJECT_PREFIX=f"campaign{tag}", CAMPAIGN_PARTITIONS=PARTITIONS,
        CAMPAIGN_RESOLVED_PARTITIONS=PARTITIONS, CAMPAIGN_PROFILE_STREAM=f"PROFILE_{profile_token.upper()}",
        CAMPAIGN_PROFILE_SUBJECT_PREFIX=f"profile{profile_token}", CAMPAIGN_PROFILE_PARTITIONS=PARTITIONS,
        CAMPAIGN_IDENTITY_ADDRESS=identity.address, CAMPAIGN_PROFILE_ADDRESS=profile.service.address, **QUICK,
        **extra,
    )  # fmt: skip


async def start_stack(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, *, identity: ServiceProcess,
    ingestion: ServiceProcess, key: str, **extra: str,
) -> CampaignStack:  # fmt: skip
    tag = token()
    profile = await start_profile(nc, nats_server, postgres, stack_dir / "logs", fixed_now=None, stream=RESOLVED)
    sinks = await ChannelSinks().start()
    schema = f"campaign_{tag}"
    env = campaign_env(nats_server, postgres, identity=identity, profile=profile, schema=schema, tag=tag,
                       **sinks.urls(), **extra)  # fmt: skip
    log_dir = stack_dir / "logs" / f"campaign-{tag}"
    service = await asyncio.to_thread(ServiceProcess("campaign", "bullseye_campaign", env, log_dir).start)
    pool = await asyncpg.create_pool(postgres.dsn, min_size=1, max_size=3, server_settings={"search_path": schema})
    assert pool is not None
    calls = [channels.channel(p.address) for p in (service, ingestion, identity)]
    return CampaignStack(service, profile, sinks, env, pool, key, *calls, schema, log_dir)


async def restart(stack: CampaignStack, **extra: str) -> None:
    """The campaign process again (same schema and stream), with `extra` settings on top."""
    await asyncio.to_thread(stack.campaign.stop)
    await stack.channel.close()
    stack.env = {**stack.env, **extra}
    stack.campaign = await asyncio.to_thread(
        ServiceProcess("campaign", "bullseye_campaign", stack.env, stack.log_dir, port=stack.campaign.port).start
    )
    stack.channel = channels.channel(stack.campaign.address)


async def stop_stack(stack: CampaignStack) -> None:
    for channel in (stack.channel, stack.front, stack.graph):
        await channel.close()
    await stack.pool.close()
    await asyncio.to_thread(stack.campaign.stop)
    await stack.sinks.stop()
    await stop_profile(stack.profile)
