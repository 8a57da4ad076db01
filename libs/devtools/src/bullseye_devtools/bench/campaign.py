"""Campaign's figures: a broadcast's throughput to the local sinks with every check on, the time
from an event accepted by ingestion to its message at a sink at 1,000 events/s (in a shop's
traffic, and with every event a triggering order), and campaign's peak RSS.

The whole chain runs as processes (the `make up` stack: ingestion, identity, profile, campaign
and the channel sinks). Shoppers are made through ingestion like a shop makes them (an identify
with an email, an app device and a cohort trait, a push consent), a segment of them in profile;
then one broadcast to all of them over push (HTTP) with a holdout, a cap, quiet hours and
exclusions configured, and an order-triggered campaign whose orders come at a fixed rate among
the traffic generator's shoppers (bullseye_devtools.traffic), then alone. Deliveries are read
from the sinks' file after each run (each line has the time it was received), so measuring costs
the chain nothing while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import grpc
import uvloop
from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import campaign_pb2_grpc as apb_grpc
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.events.v1 import event_pb2 as ev
from bullseye.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from bullseye.profile.v1 import profile_pb2_grpc
from bullseye.profile.v1 import segments_pb2 as sg
from bullseye_platform.grpc import client
from google.protobuf import duration_pb2
from google.type import money_pb2, timeofday_pb2

from bullseye_devtools.bench import campaign_hops
from bullseye_devtools.bench.cpu_meters import CpuMeters, postmaster
from bullseye_devtools.bench.loadgen import percentile
from bullseye_devtools.bench.registry import Result, Session, Target, benchmark
from bullseye_devtools.bench.rss import RssSampler
from bullseye_devtools.stack.local import LocalStack, create_api_key
from bullseye_devtools.traffic.generator import generate

C = cpb.Channel
CALL = 500  # events per TrackBatch while making shoppers
PER_CALL = 10  # events per TrackBatch of the paced trigger load


@dataclass
class CampaignStack:
    local: LocalStack
    key: str
    rss: RssSampler

    @property
    def received(self) -> Path:
        assert self.local.sinks is not None
        return self.local.sinks.received


@contextlib.contextmanager
def campaign_stack(session: Session) -> Iterator[CampaignStack]:
    session.step("starting PostgreSQL, a strict nats-server, identity, profile, campaign (with sinks), ingestion")
    local = LocalStack(session.workdir / "campaign", database_url=None, with_profile=True, with_campaign=True,
                       campaign_settings={"CAMPAIGN_JOB_POLL": "1s"}).start()  # fmt: skip
    try:
        assert local.campaign is not None and local.campaign.proc is not None
        key = create_api_key(local.env, source="bench-campaign", rate=1_000_000, burst=1_000_000)
        yield CampaignStack(local, key, RssSampler(local.campaign.proc.pid).start())
    finally:
        local.stop()


def shopper_events(cohort: str, n: int, now: datetime) -> list[ev.Event]:
    """Shopper n of the cohort: an identify (email, app device, the cohort trait), a push consent."""
    ids = ev.Identifiers(user_id=f"{cohort}-{n}", anonymous_id=f"a-{cohort}-{n}", device_id=f"d-{cohort}-{n}")
    identify = ev.Event(event_id=str(uuid.uuid4()), identifiers=ids)
    identify.occurred_at.FromDatetime(now)
    identify.context.timezone = "UTC"
    identify.identified.traits.custom["cohort"] = cohort
    identify.identified.personal.email = f"{cohort}-{n}@example.com"
    consent = ev.Event(event_id=str(uuid.uuid4()), identifiers=ids)
    consent.occurred_at.FromDatetime(now + timedelta(seconds=1))
    consent.consent_changed.CopyFrom(ev.ConsentChanged(purpose=ev.CONSENT_PURPOSE_MARKETING,
                                                       channel=ev.CONTACT_CHANNEL_PUSH, granted=True))  # fmt: skip
    return [identify, consent]


async def make_shoppers(stack: CampaignStack, cohort: str, count: int) -> str:
    """`count` shoppers through ingestion, and a segment of them once campaign holds them all."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    events = [e for n in range(count) for e in shopper_events(cohort, n, now)]
    async with grpc.aio.insecure_channel(stack.local.ingestion_address) as channel:
        api = ingestion_pb2_grpc.IngestionServiceStub(channel)
        calls = [api.TrackBatch(ingestion_pb2.TrackBatchRequest(events=events[i : i + CALL]),
                                metadata=(("x-api-key", stack.key),)) for i in range(0, len(events), CALL)]  # fmt: skip
        for reply in await asyncio.gather(*calls):
            assert reply.result.rejected == 0, reply.result
    segment = f"bench-{cohort}"
    rule = sg.Rule(compare=sg.Compare(field="traits.custom.cohort", op=sg.OPERATOR_EQ,
                                      value=sg.Literal(string_value=cohort)))  # fmt: skip
    async with client.channel(stack.local.profile_address, credentials=stack.local.operator(), deadline=None) as ch:
        await profile_pb2_grpc.ProfileServiceStub(ch).CreateSegment(
            sg.CreateSegmentRequest(segment=sg.Segment(segment_id=segment, name=segment, rule=rule)))  # fmt: skip
    await _members(stack, segment, count)
    return segment


async def _members(stack: CampaignStack, segment: str, count: int, within: float = 600.0) -> None:
    dsn = stack.local.env["DATABASE_URL"]
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "campaign"})
    try:
        deadline = time.monotonic() + within
        while await conn.fetchval("SELECT count(*) FROM segment_members WHERE segment_id = $1", segment) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"campaign's view of {segment} did not reach {count} members")
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


def push(campaign_id: str, segment: str, entry: cpb.Entry, **fields: object) -> cpb.Campaign:
    content = cpb.Content(channel=C.CHANNEL_PUSH, title="For you", body="{{ trigger.order_id }}")
    campaign = cpb.Campaign(
        campaign_id=campaign_id, name=campaign_id, audience=cpb.Audience(segment_id=segment), entry=entry,
        re_entry=cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_EVERY_TIME), channels=[C.CHANNEL_PUSH],
        variants=[cpb.Variant(variant_id="a", weight=100, contents=[content])],
        goal=cpb.ConversionGoal(event=cpb.EventFilter(event_type="order_completed"),
                                attribution_window=duration_pb2.Duration(seconds=72 * 3600)),
        costs=[cpb.ChannelCost(channel=C.CHANNEL_PUSH, cost=money_pb2.Money(currency_code="EUR", nanos=1_000_000))],
    )  # fmt: skip
    for name, value in fields.items():
        target = getattr(campaign, name)
        target.CopyFrom(value) if hasattr(target, "CopyFrom") else setattr(campaign, name, value)
    return campaign


def every_check(now: datetime) -> cpb.Limits:
    """A cap with room, quiet hours that are not now (UTC shoppers), a lifetime cap: all evaluated."""
    quiet_start = (now + timedelta(hours=6)).time()
    quiet = cpb.QuietHours(start=timeofday_pb2.TimeOfDay(hours=quiet_start.hour),
                           end=timeofday_pb2.TimeOfDay(hours=(quiet_start.hour + 2) % 24))  # fmt: skip
    cap = cpb.FrequencyCap(channel=C.CHANNEL_PUSH, max_messages=50, window=cpb.CapWindow(calendar_days=1))
    return cpb.Limits(caps=[cap], lifetime_cap=100, quiet_hours=quiet, default_time_zone="UTC")


async def launch(stack: CampaignStack, campaign: cpb.Campaign) -> float:
    """Create and launch; returns when the launch was acknowledged (epoch seconds)."""
    async with client.channel(stack.local.campaign_address, credentials=stack.local.operator(), deadline=None) as ch:
        api = apb_grpc.CampaignServiceStub(ch)
        await api.CreateCampaign(apb.CreateCampaignRequest(campaign=campaign))
        await api.LaunchCampaign(apb.LaunchCampaignRequest(campaign_id=campaign.campaign_id, expected_version=1))
    return time.time()


def deliveries(path: Path, *, since: int) -> tuple[list[dict[str, object]], int]:
    """The sinks' records after byte `since`, and where the file ends."""
    with path.open("rb") as file:
        file.seek(since)
        data = file.read()
    whole = data[: data.rfind(b"\n") + 1]
    return [json.loads(line) for line in whole.splitlines() if line], since + len(whole)


async def wait_for_deliveries(path: Path, *, since: int, count: int, within: float) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    deadline, offset = time.monotonic() + within, since
    while len(found) < count and time.monotonic() < deadline:
        more, offset = deliveries(path, since=offset)
        found += more
        await asyncio.sleep(0.5)
    return found


@benchmark("campaign.broadcast", provides=["campaign.broadcast.throughput"])
def broadcast(session: Session) -> Iterator[Result]:
    """One broadcast to N shoppers over push, every check on (consent, contact, caps, quiet hours,
    exclusions, holdout 10%): messages at the sink per second, from the launch to the last."""
    stack: CampaignStack = session.resource("campaign", campaign_stack)
    people = 300 if session.quick else int(os.environ.get("BENCH_CAMPAIGN_PEOPLE", "20000"))
    cohort = f"b{uuid.uuid4().hex[:6]}"
    session.step(f"campaign broadcast: making {people:,} shoppers through ingestion, identity and profile")
    segment = uvloop.run(make_shoppers(stack, cohort, people))
    offset = stack.received.stat().st_size if stack.received.exists() else 0
    now = datetime.now(UTC)
    definition = push(f"broadcast-{cohort}", segment, cpb.Entry(broadcast=cpb.Broadcast()), holdout_percent=10,
                      limits=every_check(now))  # fmt: skip
    definition.audience.exclude_segment_ids.append(f"{segment}-none")
    uvloop.run(_exclusion(stack, definition.audience.exclude_segment_ids[0]))
    meters = CpuMeters(_pids(stack))
    session.step(f"campaign broadcast: {people:,} persons, 10% held out")
    launched = uvloop.run(launch(stack, definition))
    uvloop.run(wait_for_deliveries(stack.received, since=offset, count=people * 8 // 10, within=1200))
    last = uvloop.run(_settled(stack, offset))  # the holdout's ~10% get nothing: wait until none arrives
    times = sorted(float(str(r["at"])) for r in last)
    cpu = meters.per_event_ms(len(times))
    span = times[-1] - launched
    detail = {"people": people, "messages": len(times), "first_after_launch_s": round(times[0] - launched, 2),
              "launch_to_last_s": round(span, 2), "steady_rate": round(len(times) / max(times[-1] - times[0], 1e-9)),
              "keys_distinct": len({r["key"] for r in last}), "cpu_ms_per_message": cpu,
              "load_average": os.getloadavg()}  # fmt: skip
    yield Result("campaign.broadcast.throughput", len(times) / span, "msgs/s", target=Target(">=", 2000),
                 detail=detail)  # fmt: skip


async def _exclusion(stack: CampaignStack, segment: str, within: float = 600.0) -> None:
    """The (empty) segment the broadcast excludes, made in profile and computed before the launch:
    an exclusion exists before a campaign names it, so its computation over every profile is not
    the broadcast's work (it ran beside it, about 0.2 ms of profile's CPU per message, before
    2026-12-06 17:10)."""
    rule = sg.Rule(compare=sg.Compare(field="traits.custom.cohort", op=sg.OPERATOR_EQ,
                                      value=sg.Literal(string_value="nobody")))  # fmt: skip
    async with client.channel(stack.local.profile_address, credentials=stack.local.operator(), deadline=None) as ch:
        api = profile_pb2_grpc.ProfileServiceStub(ch)
        await api.CreateSegment(sg.CreateSegmentRequest(segment=sg.Segment(segment_id=segment, name=segment,
                                                                           rule=rule)))  # fmt: skip
        deadline = time.monotonic() + within
        while (await api.GetSegment(sg.GetSegmentRequest(segment_id=segment))).segment.membership_state != (
            sg.MEMBERSHIP_STATE_READY
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"profile did not compute {segment} within {within:.0f} s")
            await asyncio.sleep(0.5)


async def _settled(stack: CampaignStack, offset: int) -> list[dict[str, object]]:
    """Everything received since `offset` once no more arrives for two seconds."""
    found: list[dict[str, object]] = []
    last_count = -1
    while len(found) != last_count:
        last_count = len(found)
        await asyncio.sleep(2.0)
        found, _ = deliveries(stack.received, since=offset)
    return found


TRIGGER_FIGURES = ["campaign.trigger_to_send.p50", "campaign.trigger_to_send.p99",
                   "campaign.trigger_to_send.all_orders.p50", "campaign.trigger_to_send.all_orders.p99"]  # fmt: skip
SHOP_SEED = 11  # the traffic generator's seed for the shop's other traffic


@benchmark("campaign.trigger", provides=[*TRIGGER_FIGURES, "campaign.rss_peak"])
def trigger_to_send(session: Session) -> Iterator[Result]:
    """Event accepted by ingestion -> its message at the sink (the body names the order), at a fixed
    rate (1,000 events/s), twice: in shop traffic (the traffic generator's shoppers browsing,
    searching, carting, consenting, ordering), of which a share (10%) are orders entering an
    order-triggered push campaign; then with every event such an order (1,000 messages/s)."""
    stack: CampaignStack = session.resource("campaign", campaign_stack)
    rate = int(os.environ.get("BENCH_CAMPAIGN_RATE", "1000"))
    share = float(os.environ.get("BENCH_CAMPAIGN_TRIGGER_SHARE", "0.1"))
    people, seconds = (200, 3.0) if session.quick else (2000, 20.0)
    cohort = f"t{uuid.uuid4().hex[:6]}"
    session.step(f"campaign trigger: making {people:,} shoppers")
    segment = uvloop.run(make_shoppers(stack, cohort, people))
    on_order = cpb.Entry(event=cpb.EventTrigger(event=cpb.EventFilter(event_type="order_completed")))
    campaign = push(f"orders-{cohort}", segment, on_order, limits=every_check(datetime.now(UTC)))
    uvloop.run(launch(stack, campaign))
    events = int(rate * seconds)
    orders = int(events * share)
    shop = shop_traffic(events - orders)
    session.step(f"campaign trigger: {rate:,} events/s for {seconds:.0f} s, {share:.0%} of them triggering orders, "
                 "the rest shop traffic")  # fmt: skip
    mixed = paced_run(stack, campaign.campaign_id, mix(cohort, people, shop, orders), rate=rate)
    session.step(f"campaign trigger, hop by hop (p50 / p99): {campaign_hops.shown(mixed.hops.figures)}")
    kinds = dict(Counter(e.WhichOneof("payload") for e in shop))
    yield from trigger_results("campaign.trigger_to_send", mixed, target=Target("<=", 1000), rate=rate, share=share,
                               shop=kinds)  # fmt: skip
    session.step(f"campaign trigger: {rate:,} events/s for {seconds:.0f} s, every one a triggering order")
    only_orders = paced_run(stack, campaign.campaign_id, mix(cohort, people, [], events), rate=rate)
    session.step(f"campaign trigger, hop by hop (p50 / p99): {campaign_hops.shown(only_orders.hops.figures)}")
    yield from trigger_results("campaign.trigger_to_send.all_orders", only_orders, rate=rate, share=1.0)
    yield Result("campaign.rss_peak", stack.rss.peak_bytes() / 2**20, "MB", target=Target("<=", 300))


@dataclass
class PacedRun:
    accepted: dict[str, float]  # triggering order id -> accepted at (epoch s)
    latency: list[float]  # seconds, sorted, per message that named an accepted order
    cpu_ms_per_event: dict[str, float]
    events: int
    hops: campaign_hops.Hops


def paced_run(stack: CampaignStack, campaign_id: str, calls: list[list[ev.Event]], *, rate: int) -> PacedRun:
    offset = stack.received.stat().st_size if stack.received.exists() else 0
    after_seq = uvloop.run(campaign_hops.resolved_seq(stack.local.env["NATS_URL"]))
    meters = CpuMeters(_pids(stack))
    accepted = uvloop.run(_paced(stack, calls, rate=rate))
    received = uvloop.run(wait_for_deliveries(stack.received, since=offset, count=len(accepted), within=300))
    events = sum(map(len, calls))
    cpu = meters.per_event_ms(events)
    matched = [(str(r["body"]), float(str(r["at"]))) for r in received if str(r["body"]) in accepted]  # (order, at)
    if not matched:
        raise RuntimeError("no message matched an order")
    latency = sorted(at - accepted[order] for order, at in matched)
    arrived = dict(matched)
    event_of = {e.order_completed.order_id: e.event_id for call in calls for e in call if _triggering(e)}
    orders = [campaign_hops.Order(event_of[order], accepted[order], at) for order, at in arrived.items()]
    hops = uvloop.run(campaign_hops.hops(stack.local.env["NATS_URL"], stack.local.campaign_address,
                                         stack.local.operator(), campaign_id=campaign_id, after_seq=after_seq,
                                         orders=orders))  # fmt: skip
    return PacedRun(accepted, latency, cpu, events, hops)


def trigger_results(name: str, run: PacedRun, *, target: Target | None = None, **context: object) -> Iterator[Result]:
    detail = {"events": run.events, "orders": len(run.accepted), "messages": len(run.latency), **context,
              "cpu_ms_per_event": run.cpu_ms_per_event, "hops_ms": run.hops.figures,
              "hops_matched": run.hops.matched, "load_average": os.getloadavg()}  # fmt: skip
    yield Result(f"{name}.p50", percentile(run.latency, 50) * 1000, "ms", detail=detail)
    yield Result(f"{name}.p99", percentile(run.latency, 99) * 1000, "ms", target=target, detail=detail)


def shop_traffic(count: int) -> list[ev.Event]:
    """`count` events of the traffic generator's shoppers, in time order (about 11 per shopper)."""
    if count <= 0:
        return []
    events = list(generate(count // 8 + 10, SHOP_SEED))
    if len(events) < count:
        raise RuntimeError(f"the generator made {len(events):,} events, fewer than {count:,}")
    return events[:count]


def mix(cohort: str, people: int, shop: Sequence[ev.Event], orders: int) -> list[list[ev.Event]]:
    """Calls of PER_CALL events: the shop's traffic in its order with `orders` orders by the
    cohort's shoppers (each triggers the campaign) at random places. Built before the clock
    starts: this client shares the machine."""
    rng = random.Random(5)
    total = len(shop) + orders
    at, rest = set(rng.sample(range(total), orders)), iter(shop)
    stream = [_order(cohort, rng.randrange(people)) if i in at else next(rest) for i in range(total)]
    return [stream[i : i + PER_CALL] for i in range(0, total, PER_CALL)]


async def _paced(stack: CampaignStack, calls: Sequence[Sequence[ev.Event]], *, rate: int) -> dict[str, float]:
    """Sends the calls at `rate` events/s; the cohort's order id -> accepted at (epoch s)."""
    accepted: dict[str, float] = {}
    async with grpc.aio.insecure_channel(stack.local.ingestion_address) as channel:
        api = ingestion_pb2_grpc.IngestionServiceStub(channel)

        async def one(events: Sequence[ev.Event]) -> None:
            reply = await api.TrackBatch(ingestion_pb2.TrackBatchRequest(events=events),
                                         metadata=(("x-api-key", stack.key),))  # fmt: skip
            now = time.time()
            for event, outcome in zip(events, reply.result.outcomes, strict=True):
                if outcome.status == ingestion_pb2.EVENT_STATUS_ACCEPTED and _triggering(event):
                    accepted[event.order_completed.order_id] = now

        start, pending, sent = time.perf_counter(), [], 0
        for events in calls:
            await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))
            sent += len(events)
            pending.append(asyncio.ensure_future(one(events)))
        await asyncio.gather(*pending)
    return accepted


BENCH_ORDER = "bench-o-"  # the prefix of the orders this benchmark makes to trigger its campaign


def _triggering(event: ev.Event) -> bool:
    return event.order_completed.order_id.startswith(BENCH_ORDER)


def _order(cohort: str, n: int) -> ev.Event:
    order = ev.Event(event_id=str(uuid.uuid4()),
                     identifiers=ev.Identifiers(user_id=f"{cohort}-{n}", anonymous_id=f"a-{cohort}-{n}"))  # fmt: skip
    order.occurred_at.GetCurrentTime()
    price = money_pb2.Money(currency_code="EUR", units=30)
    line = ev.LineItem(product_id="p", quantity=1, unit_price=price)
    order.order_completed.CopyFrom(ev.OrderCompleted(order_id=f"{BENCH_ORDER}{uuid.uuid4().hex}", revenue=price,
                                                     items=[line]))  # fmt: skip
    return order


def _pids(stack: CampaignStack) -> dict[str, int]:
    return {**stack.local.pids(), "postgres": postmaster(stack.local)}
