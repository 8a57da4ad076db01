"""Delivery that never double-sends and never over-sends, end to end: caps exact across campaigns
sending at once and across retried handoffs, quiet hours held in each person's time zone and
released at their end, every reachable channel, permanent failures dead-lettered, and the facts
of all of it on CAMPAIGN."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import facts_pb2 as fpb
from bullseye.campaign.v1 import records_pb2 as rpb
from google.type import timeofday_pb2
from nats.aio.client import Client as NATS

from tests.campaign import definitions as d
from tests.campaign.stack import CampaignStack, order, restart, token

C, R, Status = cpb.Channel, rpb.DecisionReason, rpb.DeliveryStatus
CONTENTS = {
    C.CHANNEL_EMAIL: cpb.Content(channel=C.CHANNEL_EMAIL, subject="Hi", body="For {{ person_id }}"),
    C.CHANNEL_PUSH: cpb.Content(channel=C.CHANNEL_PUSH, title="Hi", body="For {{ person_id }}"),
    C.CHANNEL_SMS: cpb.Content(channel=C.CHANNEL_SMS, body="For {{ person_id }}"),
    C.CHANNEL_IN_APP: cpb.Content(channel=C.CHANNEL_IN_APP, title="Hi", body="For {{ person_id }}"),
    C.CHANNEL_WEBHOOK: cpb.Content(channel=C.CHANNEL_WEBHOOK, body='{"person": "{{ person_id }}"}'),
}


def reaching(campaign_id: str, segment: str, channels: list[int], entry: cpb.Entry, **fields: object) -> cpb.Campaign:
    campaign = cpb.Campaign(
        campaign_id=campaign_id, name=campaign_id, audience=cpb.Audience(segment_id=segment), entry=entry,
        re_entry=cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_EVERY_TIME), channels=channels,
        variants=[cpb.Variant(variant_id="a", weight=100, contents=[CONTENTS[c] for c in channels])],
        goal=cpb.ConversionGoal(event=cpb.EventFilter(event_type="order_completed"), attribution_window=d.hours(72)),
    )  # fmt: skip
    for name, value in fields.items():
        target = getattr(campaign, name)
        target.CopyFrom(value) if hasattr(target, "CopyFrom") else setattr(campaign, name, value)
    return campaign


BROADCAST = cpb.Entry(broadcast=cpb.Broadcast())
ON_ORDER = cpb.Entry(event=cpb.EventTrigger(event=d.order_over(0)))
ONE_A_DAY = cpb.Limits(caps=[cpb.FrequencyCap(max_messages=1, window=cpb.CapWindow(calendar_days=1))])


async def test_two_campaigns_sending_at_once_with_retried_handoffs_never_exceed_a_shared_cap(
    stack: CampaignStack,
) -> None:
    cohort = token()
    shoppers = await stack.shoppers_of(cohort, 20, consent=("push",), device=True)
    segment = await stack.segment(cohort, 20)
    stack.sinks.refuse_first = 2  # every message is refused twice (503) before it is taken
    try:
        first, second = [reaching(f"{n}-{cohort}", segment, [C.CHANNEL_PUSH], BROADCAST, limits=ONE_A_DAY)
                          for n in ("first", "second")]  # fmt: skip
        created = [(await stack.api.CreateCampaign(apb.CreateCampaignRequest(campaign=c))).campaign
                   for c in (first, second)]  # fmt: skip
        for c in created:  # launched back to back: their broadcasts' sends interleave
            await stack.api.LaunchCampaign(apb.LaunchCampaignRequest(campaign_id=c.campaign_id, expected_version=1))
        for c in created:
            await stack.decided(c.campaign_id, 20)
        await stack.until(lambda: _sent(stack, [c.campaign_id for c in created], 20))
    finally:
        stack.sinks.refuse_first = 0

    got = stack.sinks.messages()
    assert {s.person_id: len(got.get(s.person_id, ())) for s in shoppers} == {s.person_id: 1 for s in shoppers}
    rows = [r for c in created for r in await stack.decisions(c.campaign_id)]
    reasons = Counter(rpb.Decision.FromString(r["record"]).reason for r in rows)
    assert reasons == {R.DECISION_REASON_UNSPECIFIED: 20, R.DECISION_REASON_CAPPED: 20}
    attempts = await stack.pool.fetch("SELECT attempts FROM deliveries WHERE campaign_id = ANY($1::text[])",
                                      [c.campaign_id for c in created])  # fmt: skip
    assert [r["attempts"] for r in attempts] == [3] * 20


async def test_quiet_hours_hold_a_message_in_the_persons_zone_until_they_end(stack: CampaignStack) -> None:
    cohort = token()
    tokyo = ZoneInfo("Asia/Tokyo")
    local = datetime.now(UTC).astimezone(tokyo)
    [sleeping] = await stack.shoppers_of(cohort, 1, timezone="Asia/Tokyo")
    [awake] = await stack.shoppers_of(cohort, 1, first=1, timezone="America/New_York")
    segment = await stack.segment(cohort, 2)
    start, end = local - timedelta(hours=1), local + timedelta(hours=1)  # quiet now in Tokyo, not in New York
    quiet = cpb.QuietHours(start=timeofday_pb2.TimeOfDay(hours=start.hour, minutes=start.minute),
                           end=timeofday_pb2.TimeOfDay(hours=end.hour, minutes=end.minute))  # fmt: skip
    campaign = await stack.launched(reaching(f"quiet-{cohort}", segment, [C.CHANNEL_EMAIL], ON_ORDER,
                                             limits=cpb.Limits(quiet_hours=quiet)))  # fmt: skip
    cid = campaign.campaign_id

    await stack.track(order(sleeping, 10), order(awake, 10))
    await stack.until(lambda: _sent(stack, [cid], 1))
    [held] = [rpb.Decision.FromString(r["record"]) for r in await stack.decisions(cid)
              if r["outcome"] == rpb.DECISION_OUTCOME_HELD]  # fmt: skip
    assert held.person_id == sleeping.person_id and held.reason == R.DECISION_REASON_QUIET_HOURS
    release = held.held_until.ToDatetime(tzinfo=UTC)
    assert abs(release - end.replace(second=0, microsecond=0)) < timedelta(seconds=1)

    await restart(stack, CAMPAIGN_CLOCK_OFFSET="65m")  # past the end of Tokyo's quiet hours
    try:
        await stack.until(lambda: _sent(stack, [cid], 2))
    finally:
        await restart(stack, CAMPAIGN_CLOCK_OFFSET="0s")
    assert len(stack.sinks.messages().get(sleeping.person_id, ())) == 1


async def test_every_reachable_channel_gets_the_message_and_each_has_its_own_key(stack: CampaignStack) -> None:
    cohort = token()
    [everywhere] = await stack.shoppers_of(cohort, 1, consent=("email", "sms", "push", "in_app"), phone=True,
                                           device=True)  # fmt: skip
    segment = await stack.segment(cohort, 1)
    channels = [C.CHANNEL_PUSH, C.CHANNEL_SMS, C.CHANNEL_EMAIL, C.CHANNEL_IN_APP, C.CHANNEL_WEBHOOK]
    campaign = reaching(f"all-{cohort}", segment, channels, ON_ORDER,
                        channel_selection=cpb.CHANNEL_SELECTION_ALL_REACHABLE)  # fmt: skip
    launched = await stack.launched(campaign)

    await stack.track(order(everywhere, 10))
    await stack.until(lambda: _sent(stack, [launched.campaign_id], 5))

    received = [r for r in stack.sinks.received if r.person_id == everywhere.person_id]
    assert sorted(r.channel for r in received) == ["email", "in_app", "push", "sms", "webhook"]
    assert len({r.key for r in received}) == 5
    assert next(r for r in received if r.channel == "push").body == f"For {everywhere.person_id}"


async def test_a_permanent_failure_is_dead_lettered_and_every_outcome_is_a_fact(stack: CampaignStack, nc: NATS) -> None:
    cohort = token()
    [shopper] = await stack.shoppers_of(cohort, 1)
    [unconsented] = await stack.shoppers_of(cohort, 1, first=1, consent=())
    segment = await stack.segment(cohort, 2)
    campaign = reaching(f"dead-{cohort}", segment, [C.CHANNEL_WEBHOOK], ON_ORDER)
    campaign.variants[0].contents[0].body = "not JSON for {{ person_id }}"
    cid = (await stack.launched(campaign)).campaign_id
    await stack.track(order(shopper, 10), order(unconsented, 10))

    await stack.decided(cid, 2)
    await stack.until(lambda: _dead(stack, cid, 1))

    facts: list[tuple[str, fpb.CampaignRecord]] = []

    async def published() -> bool:  # the outbox relay publishes after the transactions that recorded them
        facts[:] = [(kind, record) for kind, record in await stack.facts(nc)
                    if getattr(record, record.WhichOneof("fact") or "").campaign_id == cid]  # fmt: skip
        # Either may come first: the suppression is decided in whichever pass folded its order.
        return {"message.failed", "message.suppressed"} <= {kind for kind, _ in facts}

    await stack.until(published)
    kinds = Counter(kind for kind, _ in facts)
    assert kinds == {"campaign.state_changed": 1, "message.failed": 1, "message.suppressed": 1}
    [failed] = [r.message_failed for k, r in facts if k == "message.failed"]
    assert failed.permanent and "did not render to JSON" in failed.error and failed.person_id == shopper.person_id


async def _sent(stack: CampaignStack, campaigns: list[str], wanted: int) -> bool:
    count = await stack.pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE campaign_id = ANY($1::text[]) AND status = $2", campaigns,
        Status.DELIVERY_STATUS_SENT,
    )  # fmt: skip
    return int(count) >= wanted


async def _dead(stack: CampaignStack, campaign_id: str, wanted: int) -> bool:
    count = await stack.pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE campaign_id = $1 AND status = $2", campaign_id,
        Status.DELIVERY_STATUS_DEAD_LETTERED,
    )  # fmt: skip
    return int(count) == wanted
