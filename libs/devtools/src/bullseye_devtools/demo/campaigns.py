"""The demo's campaigns: an abandoned-cart trigger and an A/B broadcast with a holdout and a staged
rollout, with simulated recipients whose behaviour has a true effect for one variant.

Both audiences are inline rules ("email marketing allowed") that become the campaigns' own
segments in profile. The cart campaign emails whoever added to their cart and did not order
within a minute. The broadcast goes to 20% of its audience, then to everyone; recipients then
open and click some messages, and some people of every arm order: variant `free-shipping`
converts at 11% against 4-5% for `ten-off` and the holdout. The report shows what the service
measured: per arm counts, uplift with its interval and p-value, ROI.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import campaign_pb2_grpc as apb_grpc
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import records_pb2 as rpb
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as ipb
from bullseye.identity.v1 import identity_pb2_grpc as ipb_grpc
from bullseye.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from bullseye.profile.v1 import profile_pb2
from bullseye.profile.v1 import segments_pb2 as sg
from bullseye.profile.v1.profile_pb2_grpc import ProfileServiceStub
from bullseye_platform.grpc import client
from google.protobuf import duration_pb2
from google.type import money_pb2

from bullseye_devtools.stack.local import LocalStack

C = cpb.Channel
CONVERTS = {"control": 0.04, "ten-off": 0.05, "free-shipping": 0.11}  # the true effect: free shipping
OPENS, CLICKS = 0.45, 0.25  # of the delivered; of the opened
RETURNS = 0.3  # of everyone: a visit in the week after, whatever the arm (retention)
CART_PEOPLE = 120  # of whom a third order within the minute


def _hours(n: float) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=int(n * 3600))


def email_allowed() -> sg.Rule:
    return sg.Rule(compare=sg.Compare(field="consent.marketing.email.granted", op=sg.OPERATOR_EQ,
                                      value=sg.Literal(bool_value=True)))  # fmt: skip


def _email(subject: str, body: str) -> cpb.Content:
    return cpb.Content(channel=C.CHANNEL_EMAIL, subject=subject, body=body, url="https://shop.example/cart")


def _goal() -> cpb.ConversionGoal:
    return cpb.ConversionGoal(event=cpb.EventFilter(event_type="order_completed"), attribution_window=_hours(72),
                              basis=cpb.ATTRIBUTION_BASIS_SEND_OR_CLICK)  # fmt: skip


def _costs() -> list[cpb.ChannelCost]:
    return [cpb.ChannelCost(channel=C.CHANNEL_EMAIL, cost=money_pb2.Money(currency_code="EUR", nanos=20_000_000))]


def abandoned_cart(tag: str) -> cpb.Campaign:
    waited = cpb.AfterEvent(
        after=cpb.EventFilter(event_type="cart_item_added"), delay=duration_pb2.Duration(seconds=60),
        unless=cpb.EventFilter(event_type="order_completed"),
    )  # fmt: skip
    return cpb.Campaign(
        campaign_id=f"abandoned-cart-{tag}", name="Abandoned cart", audience=cpb.Audience(rule=email_allowed()),
        entry=cpb.Entry(after_event=waited), re_entry=cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_ONCE_PER_PERIOD,
                                                                   period=_hours(24)),
        exit=cpb.Exit(on_conversion=True), channels=[C.CHANNEL_EMAIL],
        variants=[cpb.Variant(variant_id="reminder", weight=100, contents=[_email(
            "{{ traits.first_name | default: 'Hello' }}, your cart is waiting",
            "You left {{ trigger.product_id }} in your cart.")])],
        goal=_goal(), costs=_costs(),
        limits=cpb.Limits(caps=[cpb.FrequencyCap(max_messages=2, window=cpb.CapWindow(calendar_days=1))]),
    )  # fmt: skip


def spring_sale(tag: str) -> cpb.Campaign:
    variants = [
        cpb.Variant(variant_id="ten-off", name="10% off", weight=50,
                    contents=[_email("10% off this week", "Use SPRING10 at checkout.")]),
        cpb.Variant(variant_id="free-shipping", name="Free shipping", weight=50,
                    contents=[_email("Free shipping this week", "Every order ships free until Sunday.")]),
    ]  # fmt: skip
    return cpb.Campaign(
        campaign_id=f"spring-sale-{tag}", name="Spring sale A/B", audience=cpb.Audience(rule=email_allowed()),
        entry=cpb.Entry(broadcast=cpb.Broadcast()), re_entry=cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_ONCE_EVER),
        channels=[C.CHANNEL_EMAIL], variants=variants, holdout_percent=20, goal=_goal(), costs=_costs(),
        rollout=cpb.Rollout(stage_percents=[20, 100], advance=cpb.ROLLOUT_ADVANCE_MANUAL),
        limits=cpb.Limits(caps=[cpb.FrequencyCap(max_messages=2, window=cpb.CapWindow(calendar_days=1))]),
    )  # fmt: skip


@dataclass
class CampaignRun:
    """What the demo's campaigns did, for the report."""

    cart: list[rpb.Delivery] = field(default_factory=list)
    carted: list[str] = field(default_factory=list)  # persons who added to their cart
    bought: list[str] = field(default_factory=list)  # of them, those who ordered within the minute
    report: rpb.Report | None = None
    arms: dict[str, str] = field(default_factory=dict)  # person -> arm
    simulated: dict[str, int] = field(default_factory=dict)  # arm -> persons who ordered
    stage_sizes: list[int] = field(default_factory=list)  # audience measured after each stage


class Shop:
    """The calls the demo makes: as the operator to campaign, profile and identity, with the
    shop's API key to ingestion."""

    def __init__(self, stack: LocalStack, api_key: str) -> None:
        def calls(address: str, module: Any, service: str) -> grpc.aio.Channel:
            """As the operator; reads are retried on UNAVAILABLE (the client factory's policy)."""
            descriptor = module.DESCRIPTOR.services_by_name[service]
            return client.channel(address, credentials=stack.operator(), service=descriptor, deadline=60)

        self.campaigns = apb_grpc.CampaignServiceStub(calls(stack.campaign_address, apb, "CampaignService"))
        self.profile = ProfileServiceStub(calls(stack.profile_address, profile_pb2, "ProfileService"))
        self.identity = ipb_grpc.IdentityServiceStub(calls(stack.identity_address, ipb, "IdentityService"))
        self._ingest = ingestion_pb2_grpc.IngestionServiceStub(grpc.aio.insecure_channel(stack.ingestion_address))
        self._key = api_key

    async def launch(self, campaign: cpb.Campaign) -> cpb.Campaign:
        created = (await self.campaigns.CreateCampaign(apb.CreateCampaignRequest(campaign=campaign))).campaign
        launched = apb.LaunchCampaignRequest(campaign_id=created.campaign_id, expected_version=created.version)
        return (await self.campaigns.LaunchCampaign(launched)).campaign

    async def track(self, events: Sequence[ev.Event]) -> None:
        """Send `events`; every one must be stored (a rejected one would leave a wait unmet)."""
        for start in range(0, len(events), 500):
            request = ingestion_pb2.TrackBatchRequest(events=events[start : start + 500])
            reply = await self._ingest.TrackBatch(request, metadata=(("x-api-key", self._key),))
            for outcome in reply.result.outcomes:
                if outcome.status == ingestion_pb2.EVENT_STATUS_REJECTED:
                    raise ValueError(f"ingestion rejected the demo's event {start + outcome.index}: "
                                     f"{outcome.violations[0].field}: {outcome.violations[0].description}")  # fmt: skip

    async def members(self, segment_id: str) -> list[str]:
        found = []
        async for page in self.profile.ListMembers(sg.ListMembersRequest(segment_id=segment_id, page_size=5000)):
            found += [m.person_id for m in page.members]
        return found

    async def identifiers(self, person_id: str) -> ev.Identifiers | None:
        """Who to send a person's events as, so that they resolve to that person: their user id,
        else their latest anonymous id, neither shared (a kiosk's id, a placeholder names nobody).
        None for a person known only by an email or phone (a till or CRM record)."""
        reply = await self.identity.GetIdentities(ipb.GetIdentitiesRequest(person_id=person_id))
        own = sorted((i for i in reply.identities if not i.shared), key=lambda i: i.last_seen.ToNanoseconds())
        by_type = {i.identifier.type: i.identifier.value for i in own}
        if user_id := by_type.get(ipb.IDENTIFIER_TYPE_USER_ID):
            return ev.Identifiers(user_id=user_id)
        if anonymous_id := by_type.get(ipb.IDENTIFIER_TYPE_ANONYMOUS_ID):
            return ev.Identifiers(anonymous_id=anonymous_id)
        return None

    async def deliveries(self, campaign_id: str) -> list[rpb.Delivery]:
        found, token = [], ""
        while True:
            request = apb.ListDeliveriesRequest(campaign_id=campaign_id, page_size=500, page_token=token)
            page = await self.campaigns.ListDeliveries(request)
            found += list(page.deliveries)
            token = page.next_page_token
            if not token:
                return found

    async def report(self, campaign_id: str) -> rpb.Report:
        return (await self.campaigns.GetReport(apb.GetReportRequest(campaign_id=campaign_id))).report


def event_of(who: ev.Identifiers, **payload: object) -> ev.Event:
    event = ev.Event(event_id=str(uuid.uuid4()), identifiers=who)
    event.occurred_at.FromDatetime(datetime.now(UTC))
    for kind, message in payload.items():
        getattr(event, kind).CopyFrom(message)
    return event


def order(who: ev.Identifiers, amount: float, *, message: rpb.Delivery | None = None) -> ev.Event:
    price = money_pb2.Money(currency_code="EUR", units=int(amount))
    line = ev.LineItem(product_id="p-spring", quantity=1, unit_price=price)
    placed = event_of(who, order_completed=ev.OrderCompleted(order_id=f"o-{uuid.uuid4().hex[:12]}", items=[line],
                                                             revenue=price))  # fmt: skip
    if message is not None:  # they came through the message's link
        placed.context.attribution.campaign_id = message.campaign_id
        placed.context.attribution.message_id = message.message_id
    return placed


async def until(check: Callable[[], Awaitable[bool]], what: str, *, within: float, every: float = 1.0) -> None:
    """Poll `check` until it holds; print how long it took (a slow run shows where its time went)."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise TimeoutError(f"the demo waited {within:.0f} s for {what}")
        await asyncio.sleep(every)
    print(f"      {what}: {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)


async def run_cart(shop: Shop, tag: str, rng: random.Random, result: CampaignRun) -> None:
    """Carts added now by some of the audience; a third of them order before the minute is over."""
    cart = await shop.launch(abandoned_cart(tag))
    segment = cart.audience.owned_segment_id
    await until(lambda: _has_members(shop, segment), "the cart audience has members", within=120)
    candidates = sorted(await shop.members(segment))
    rng.shuffle(candidates)
    who: dict[str, ev.Identifiers] = {}
    for person in candidates:  # the first CART_PEOPLE in a random order who can be sent as themselves
        if len(who) == CART_PEOPLE:
            break
        if (known := await shop.identifiers(person)) is not None:
            who[person] = known
    people = list(who)
    result.carted, result.bought = people, people[: len(people) // 3]
    await shop.track([event_of(who[p], cart_item_added=ev.CartItemAdded(cart_id=f"c-{p[:8]}", product_id="p-42",
                                                                         quantity=1)) for p in people])  # fmt: skip
    await asyncio.sleep(5)  # they order a little later, within the minute
    await shop.track([order(who[p], 60) for p in result.bought])
    waiting = [p for p in people if p not in result.bought]

    async def decided() -> bool:  # each one who did not order, a minute later (sent, or why not)
        for person in waiting:
            request = apb.ExplainDecisionRequest(campaign_id=cart.campaign_id, person_id=person)
            if not (await shop.campaigns.ExplainDecision(request)).decisions:
                return False
        return True

    await until(decided, "every reminder decided, a minute after the cart", within=150)
    handed = (rpb.DELIVERY_STATUS_SENT, rpb.DELIVERY_STATUS_DELIVERED)
    result.cart = [d for d in await left(shop, cart.campaign_id) if d.status in handed]


async def left(shop: Shop, campaign_id: str, *, within: float = 120.0) -> list[rpb.Delivery]:
    """The campaign's deliveries once none waits for a handoff (sent, or dead-lettered)."""
    waiting = (rpb.DELIVERY_STATUS_SENDING, rpb.DELIVERY_STATUS_RETRYING)
    found: list[rpb.Delivery] = []

    async def handed_off() -> bool:
        nonlocal found
        found = await shop.deliveries(campaign_id)
        return not any(d.status in waiting for d in found)

    await until(handed_off, "every message handed to its channel", within=within)
    return found


async def _has_members(shop: Shop, segment: str) -> bool:
    try:
        return bool(await shop.members(segment))
    except grpc.aio.AioRpcError:
        return False


async def run_sale(shop: Shop, tag: str, rng: random.Random, result: CampaignRun, persons: Sequence[str]) -> None:
    """The broadcast, stage by stage; then each of `persons` (the demo's shoppers) asks which arm
    they are in (its own segment is gone once the broadcast completes) and behaves as that arm does."""
    sale = await shop.launch(spring_sale(tag))
    cid = sale.campaign_id
    result.stage_sizes.append(await _settled_audience(shop, cid))
    await shop.campaigns.AdvanceRollout(apb.AdvanceRolloutRequest(campaign_id=cid, expected_stage=0))
    result.stage_sizes.append(await _settled_audience(shop, cid))
    # Receipts only for what was sent.
    sent = {d.person_id: d for d in await left(shop, cid) if d.status == rpb.DELIVERY_STATUS_SENT}
    for person in persons:
        known = sent.get(person)
        if known is not None:
            result.arms[person] = known.arm
        else:
            explained = await shop.campaigns.ExplainDecision(apb.ExplainDecisionRequest(campaign_id=cid,
                                                                                         person_id=person))  # fmt: skip
            if explained.decisions:
                result.arms[person] = explained.arm
    behaviour = await _behaviour(shop, rng, result, sent)
    await shop.track(behaviour)
    converted = sum(result.simulated.values())
    opened = sum(1 for e in behaviour if e.message_interacted.interaction == ev.MESSAGE_INTERACTION_OPENED)

    async def measured() -> bool:  # every order and every open folded in
        result.report = await shop.report(cid)
        arms = result.report.arms
        return sum(a.converted for a in arms) >= converted and sum(a.opened for a in arms) >= opened

    await until(measured, "every open and order in the report", within=120)


async def _settled_audience(shop: Shop, campaign_id: str, *, within: float = 120.0) -> int:
    """The stage's audience once it is final: the broadcast entered everyone the stage exposes
    and each one's send is decided (at a few dozen people, a 20% stage may expose nobody)."""
    audience = 0

    async def settled() -> bool:
        nonlocal audience
        report = await shop.report(campaign_id)
        audience = sum(a.audience for a in report.arms)
        return not report.entering and report.undecided == 0

    await until(settled, "the stage's audience entered and decided", within=within)
    return audience


async def _behaviour(
    shop: Shop, rng: random.Random, result: CampaignRun, sent: dict[str, rpb.Delivery]
) -> list[ev.Event]:
    """Receipts, opens, clicks and orders of every person in an arm, drawn with the arm's rates."""
    events: list[ev.Event] = []
    for person, arm in result.arms.items():
        who = await shop.identifiers(person)
        if who is None:  # known only by an email or phone: no app or site behaviour to simulate
            continue
        message = sent.get(person)
        clicked = False
        if message is not None:
            events.append(_interacted(who, message, ev.MESSAGE_INTERACTION_DELIVERED))
            if rng.random() < OPENS:
                events.append(_interacted(who, message, ev.MESSAGE_INTERACTION_OPENED))
                clicked = rng.random() < CLICKS
                if clicked:
                    events.append(_interacted(who, message, ev.MESSAGE_INTERACTION_CLICKED))
        if rng.random() < RETURNS:
            events.append(event_of(who, page_viewed=ev.PageViewed(name="home")))
        if rng.random() < CONVERTS[arm]:
            events.append(order(who, rng.choice((35, 60, 90, 140)), message=message if clicked else None))
            result.simulated[arm] = result.simulated.get(arm, 0) + 1
    return events


def _interacted(who: ev.Identifiers, message: rpb.Delivery, what: int) -> ev.Event:
    return event_of(who, message_interacted=ev.MessageInteracted(message_id=message.message_id, interaction=what,  # type: ignore[arg-type]
                                                                  campaign_id=message.campaign_id,
                                                                  channel=ev.CONTACT_CHANNEL_EMAIL))  # fmt: skip


async def run(stack: LocalStack, api_key: str, *, seed: int, persons: Sequence[str]) -> CampaignRun:
    shop, rng, tag = Shop(stack, api_key), random.Random(seed), uuid.uuid4().hex[:6]
    result = CampaignRun()
    # One after the other: the sale's simulated orders would cancel carts' waits ("unless an order").
    await run_cart(shop, tag, rng, result)
    await run_sale(shop, tag, random.Random(seed + 1), result, sorted(persons))
    return result
