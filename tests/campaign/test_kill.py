"""kill -9 of the campaign process in the middle of a large broadcast: after a restart every
eligible person has exactly one message at the sinks (one distinct idempotency key each, none
with two), and campaign's records agree. A repeat of a key (handed over again because the
process died between the channel taking it and the commit) is counted and reported."""

from __future__ import annotations

import asyncio
import logging

import pytest
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import records_pb2 as rpb

from tests.campaign import definitions as d
from tests.campaign.stack import CampaignStack, restart, token

C = cpb.Channel
PEOPLE = 1500
log = logging.getLogger(__name__)


@pytest.mark.slow
async def test_every_eligible_person_gets_exactly_one_message_when_the_process_is_killed_mid_send(
    stack: CampaignStack,
) -> None:
    cohort = token()
    with_app = await stack.shoppers_of(cohort, PEOPLE // 2, consent=("push",), device=True)
    by_mail = await stack.shoppers_of(cohort, PEOPLE - PEOPLE // 2, first=PEOPLE // 2)
    segment = await stack.segment(cohort, PEOPLE)
    contents = [cpb.Content(channel=C.CHANNEL_PUSH, title="Sale", body="for {{ person_id }}"),
                cpb.Content(channel=C.CHANNEL_EMAIL, subject="Sale", body="for {{ person_id }}")]  # fmt: skip
    campaign = cpb.Campaign(
        campaign_id=f"big-{cohort}", name="big", audience=cpb.Audience(segment_id=segment),
        entry=cpb.Entry(broadcast=cpb.Broadcast()), re_entry=cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_ONCE_EVER),
        channels=[C.CHANNEL_PUSH, C.CHANNEL_EMAIL],
        variants=[cpb.Variant(variant_id="a", weight=100, contents=contents)],
        goal=cpb.ConversionGoal(event=cpb.EventFilter(event_type="order_completed"), attribution_window=d.hours(72)),
    )  # fmt: skip
    launched = await stack.launched(campaign)

    await stack.until(lambda: _received_at_least(stack, PEOPLE // 5))
    await asyncio.to_thread(stack.campaign.kill)  # SIGKILL: no drain, no cleanup
    killed_at = len(stack.sinks.received)
    await restart(stack)
    await stack.decided(launched.campaign_id, PEOPLE)
    await stack.until(lambda: _all_handed_over(stack, launched.campaign_id), within=180)

    got = stack.sinks.messages()
    eligible = {s.person_id: "push" for s in with_app} | {s.person_id: "email" for s in by_mail}
    assert {p: len(got.get(p, ())) for p in eligible} == dict.fromkeys(eligible, 1)
    channels = {r.person_id: r.channel for r in stack.sinks.received}
    assert channels == eligible
    recorded = await stack.pool.fetch("SELECT message_id FROM deliveries WHERE campaign_id = $1",
                                      launched.campaign_id)  # fmt: skip
    assert {r["message_id"] for r in recorded} == {k for keys in got.values() for k in keys}
    log.warning("killed after %d handoffs; %d handoffs repeated after the restart", killed_at, stack.sinks.repeats())
    assert 0 < killed_at < PEOPLE, "the process was killed mid-send"


async def _received_at_least(stack: CampaignStack, count: int) -> bool:
    return len(stack.sinks.received) >= count


async def _all_handed_over(stack: CampaignStack, campaign_id: str) -> bool:
    pending = await stack.pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE campaign_id = $1 AND status <> $2", campaign_id,
        rpb.DELIVERY_STATUS_SENT,
    )  # fmt: skip
    return pending == 0
