"""Every way into a campaign, end to end through ingestion, identity and profile: an event with
conditions, entering the audience segment, the absence of an event after a delay (on durable
timers, with the campaign's clock moved), a plain delay; re-entry and exits; consent withdrawn
between entering and sending; and a replay of RESOLVED and PROFILE that sends nothing again."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import records_pb2 as rpb
from bullseye.events.v1 import event_pb2 as ev
from google.protobuf import duration_pb2

from tests.campaign import definitions as d
from tests.campaign.stack import CampaignStack, Shopper, event_of, order, restart, token

C, R = cpb.Channel, rpb.DecisionReason


def minutes(n: float) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=int(n * 60))


def emailing(campaign_id: str, segment: str, entry: cpb.Entry, **fields: object) -> cpb.Campaign:
    """A campaign of one variant that emails its audience on `entry`, every time it triggers."""
    body = "Order {{ trigger.order_id }}: {{ trigger.revenue }} {{ trigger.revenue_currency }}"
    content = cpb.Content(channel=C.CHANNEL_EMAIL, subject="Hi {{ traits.first_name }}", body=body)
    campaign = cpb.Campaign(
        campaign_id=campaign_id, name=campaign_id, audience=cpb.Audience(segment_id=segment), entry=entry,
        re_entry=cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_EVERY_TIME), channels=[C.CHANNEL_EMAIL],
        variants=[cpb.Variant(variant_id="a", weight=100, contents=[content])],
        goal=cpb.ConversionGoal(event=cpb.EventFilter(event_type="order_completed"), attribution_window=d.hours(72)),
    )  # fmt: skip
    for name, value in fields.items():
        getattr(campaign, name).CopyFrom(value)
    return campaign


def on_order_over(amount: float) -> cpb.Entry:
    return cpb.Entry(event=cpb.EventTrigger(event=d.order_over(amount)))


async def mails_to(stack: CampaignStack, shopper: Shopper) -> list[str]:
    return [r.key for r in stack.sinks.received if r.person_id == shopper.person_id]


async def reasons(stack: CampaignStack, campaign_id: str) -> dict[str, list[int]]:
    """person -> the reasons of their final decisions (0: sent)."""
    found: dict[str, list[int]] = {}
    for row in await stack.decisions(campaign_id):
        if row["outcome"] != rpb.DECISION_OUTCOME_HELD:
            found.setdefault(row["person_id"], []).append(rpb.Decision.FromString(row["record"]).reason)
    return found


async def test_an_order_over_100_gets_one_email_with_its_key_in_the_message_id(stack: CampaignStack) -> None:
    cohort = token()
    [buyer, small] = await stack.shoppers_of(cohort, 2)
    segment = await stack.segment(cohort, 2)
    campaign = await stack.launched(emailing(f"thanks-{cohort}", segment, on_order_over(100)))
    assert campaign.state == cpb.CAMPAIGN_STATE_RUNNING

    big_order = order(buyer, 150, order_id="o-1")
    await stack.track(big_order, order(small, 20))
    await stack.until(lambda: _count(stack, campaign.campaign_id, 1))

    keys = set(await mails_to(stack, buyer))  # one message; a handoff repeated under load carries its key again
    assert len(keys) == 1, [(r.key, r.person_id, r.at) for r in stack.sinks.received]
    mail = next(r for r in stack.sinks.received if r.key in keys)
    assert mail.address == buyer.email and mail.subject == "Hi Sam" and "Order o-1: 150.0 EUR" in mail.body
    request = apb.ListDeliveriesRequest(campaign_id=campaign.campaign_id)
    [delivery] = (await stack.api.ListDeliveries(request)).deliveries
    assert delivery.message_id == mail.key and delivery.occurrence_id == big_order.event_id
    assert delivery.status == rpb.DELIVERY_STATUS_SENT and await mails_to(stack, small) == []


async def test_a_message_that_reads_only_its_trigger_names_each_persons_own_order(stack: CampaignStack) -> None:
    # Rendered once per trigger in a handoff batch (it reads nothing of the person): orders
    # tracked together are handed off together, and neither may get the other's.
    cohort = token()
    buyers = await stack.shoppers_of(cohort, 3)
    segment = await stack.segment(cohort, 3)
    definition = emailing(f"orders-{cohort}", segment, on_order_over(10))
    content = definition.variants[0].contents[0]
    content.subject, content.body = "Your order", "Order {{ trigger.order_id }} ({{ campaign.variant_id }})"
    campaign = await stack.launched(definition)

    await stack.track(*(order(b, 50, order_id=f"o-{cohort}-{n}") for n, b in enumerate(buyers)))
    await stack.until(lambda: _count(stack, campaign.campaign_id, 3))

    for n, buyer in enumerate(buyers):
        bodies = {r.body.strip() for r in stack.sinks.received if r.person_id == buyer.person_id}
        assert bodies == {f"Order o-{cohort}-{n} (a)"}, bodies


async def test_entering_the_audience_segment_enters_the_campaign_once_after_launch(stack: CampaignStack) -> None:
    cohort = token()
    [before] = await stack.shoppers_of(cohort, 1)
    segment = await stack.segment(cohort, 1)
    entry = cpb.Entry(segment_entered=cpb.SegmentEntered(delay=minutes(0)))
    campaign = await stack.launched(emailing(f"welcome-{cohort}", segment, entry))

    # Consented (and known to campaign: shoppers_of waits for it) before joining the cohort:
    # campaign reads consent from RESOLVED and segment entries from PROFILE, in no order
    # between the two, so an entry that arrives first is decided without the consent.
    [newcomer] = await stack.shoppers_of(f"{cohort}-soon", 1)
    await stack.track(event_of(newcomer, identified=ev.Identified(traits=ev.Traits(custom={"cohort": cohort}))))
    await stack.until(lambda: _count(stack, campaign.campaign_id, 1))

    assert len(await mails_to(stack, newcomer)) == 1
    assert await mails_to(stack, before) == [], "a member from before the launch did not enter"


async def test_viewed_and_not_added_within_10_minutes_gets_a_coupon_when_its_timer_runs_out(
    stack: CampaignStack,
) -> None:
    cohort = token()
    [browser, buyer] = await stack.shoppers_of(cohort, 2)
    segment = await stack.segment(cohort, 2)
    viewed = cpb.EventFilter(event_type="product_viewed")
    added = cpb.EventFilter(event_type="cart_item_added")
    entry = cpb.Entry(after_event=cpb.AfterEvent(after=viewed, unless=added, correlate_on="product_id",
                                                 delay=minutes(10)))  # fmt: skip
    campaign = await stack.launched(emailing(f"coupon-{cohort}", segment, entry))
    viewing = event_of(browser, product_viewed=ev.ProductViewed(product_id="p-1"))
    looking = event_of(buyer, product_viewed=ev.ProductViewed(product_id="p-2"))
    adding = event_of(buyer, cart_item_added=ev.CartItemAdded(cart_id="c", product_id="p-2", quantity=1))
    await stack.track(viewing, looking, adding)
    # Their last events are folded (each carries a time zone, which campaign keeps by event)...
    await stack.until(lambda: _zoned(stack, {browser.person_id: viewing.event_id, buyer.person_id: adding.event_id}))
    # ... and only the browser's wait is left: the buyer added the product they viewed.
    assert await _waits(stack, campaign.campaign_id, 1)
    assert await mails_to(stack, browser) == []

    await restart(stack, CAMPAIGN_CLOCK_OFFSET="11m")  # the timer is a row: it survives the restart
    try:
        await stack.until(lambda: _count(stack, campaign.campaign_id, 1))
        assert len(await mails_to(stack, browser)) == 1 and await mails_to(stack, buyer) == []
    finally:
        await restart(stack, CAMPAIGN_CLOCK_OFFSET="0s")


async def test_a_once_ever_campaign_sends_once_and_records_the_refused_reentry(stack: CampaignStack) -> None:
    cohort = token()
    [buyer] = await stack.shoppers_of(cohort, 1)
    segment = await stack.segment(cohort, 1)
    campaign = emailing(f"once-{cohort}", segment, on_order_over(100))
    campaign.re_entry.policy = cpb.RE_ENTRY_POLICY_ONCE_EVER
    launched = await stack.launched(campaign)

    await stack.track(order(buyer, 120))
    await stack.until(lambda: _count(stack, launched.campaign_id, 1))
    await stack.track(order(buyer, 130))
    await stack.decided(launched.campaign_id, 2)

    assert await reasons(stack, launched.campaign_id) == {buyer.person_id: [R.DECISION_REASON_UNSPECIFIED,
                                                                           R.DECISION_REASON_RE_ENTRY]}  # fmt: skip
    assert len(await mails_to(stack, buyer)) == 1


async def test_an_exit_event_or_withdrawn_consent_before_the_send_means_no_message(stack: CampaignStack) -> None:
    cohort = token()
    [leaving, withdrawing, staying] = await stack.shoppers_of(cohort, 3)
    segment = await stack.segment(cohort, 3)
    campaign = emailing(f"exits-{cohort}", segment, on_order_over(100))
    campaign.exit.on_events.append(cpb.EventFilter(event_type="logged_out"))
    launched = await stack.launched(campaign)
    cid = launched.campaign_id
    await stack.api.PauseCampaign(apb.PauseCampaignRequest(campaign_id=cid, reason="hold the sends"))

    await stack.track(*(order(s, 150) for s in (leaving, withdrawing, staying)))
    withdrawal = event_of(
        withdrawing,
        consent_changed=ev.ConsentChanged(
            purpose=ev.CONSENT_PURPOSE_MARKETING, channel=ev.CONTACT_CHANNEL_ALL, granted=False, source="unsubscribe"
        ),
    )
    await stack.track(event_of(leaving, logged_out=ev.LoggedOut()), withdrawal)  # fmt: skip
    await stack.until(lambda: _projected(stack, withdrawal.event_id, cid))
    await stack.api.ResumeCampaign(apb.ResumeCampaignRequest(campaign_id=cid))
    await stack.decided(cid, 3)

    assert await reasons(stack, cid) == {
        leaving.person_id: [R.DECISION_REASON_EXITED], withdrawing.person_id: [R.DECISION_REASON_NO_CONSENT],
        staying.person_id: [R.DECISION_REASON_UNSPECIFIED],
    }  # fmt: skip
    await stack.until(lambda: _count(stack, cid, 1))
    assert [len(await mails_to(stack, s)) for s in (leaving, withdrawing, staying)] == [0, 0, 1]


async def test_a_replay_of_resolved_and_profile_sends_nothing_again(stack: CampaignStack) -> None:
    cohort = token()
    [buyer] = await stack.shoppers_of(cohort, 1)
    segment = await stack.segment(cohort, 1)
    launched = await stack.launched(emailing(f"replay-{cohort}", segment, on_order_over(100)))
    await stack.track(order(buyer, 150))
    await stack.until(lambda: _count(stack, launched.campaign_id, 1))
    handed = len(stack.sinks.received)

    await asyncio.to_thread(stack.campaign.stop)
    rebuilt = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "bullseye_campaign", "rebuild"],
                                      env={**os.environ, **stack.env}, capture_output=True, text=True)  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert await stack.pool.fetchval("SELECT count(*) FROM consent_statements") == 0
    await restart(stack)
    await stack.until(lambda: _replayed(stack))
    await stack.members(segment, 1)  # PROFILE folded back too
    [marker] = await stack.shoppers_of(token(), 1)  # a live record after the replay: folded once identity's is
    await stack.until(lambda: _consents(stack, marker.person_id, 1))

    assert len(stack.sinks.received) == handed
    assert await stack.pool.fetchval("SELECT count(*) FROM deliveries WHERE campaign_id = $1",
                                     launched.campaign_id) == 1  # fmt: skip


async def _count(stack: CampaignStack, campaign_id: str, wanted: int) -> bool:
    sent = await stack.pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE campaign_id = $1 AND status = $2", campaign_id, rpb.DELIVERY_STATUS_SENT
    )
    return int(sent) >= wanted


async def _waits(stack: CampaignStack, campaign_id: str, wanted: int) -> bool:
    count = await stack.pool.fetchval(
        "SELECT count(*) FROM scheduled_jobs WHERE queue = 'campaign-wait' AND key LIKE $1", campaign_id + "|%"
    )
    return int(count) == wanted


async def _zoned(stack: CampaignStack, last: dict[str, str]) -> bool:
    rows = await stack.pool.fetch("SELECT person_id, event_id FROM person_zones WHERE person_id = ANY($1::text[])",
                                  list(last))  # fmt: skip
    return {r["person_id"]: r["event_id"] for r in rows} == last


async def _projected(stack: CampaignStack, event_id: str, campaign_id: str) -> bool:
    consent = await stack.pool.fetchval("SELECT 1 FROM consent_statements WHERE event_id = $1", event_id)
    exits = await stack.pool.fetchval("SELECT count(*) FROM exits WHERE campaign_id = $1", campaign_id)
    return consent is not None and exits >= 1


async def _consents(stack: CampaignStack, person_id: str, wanted: int) -> bool:
    query = "SELECT count(*) FROM consent_statements WHERE person_id = $1"
    return int(await stack.pool.fetchval(query, person_id)) == wanted


async def _replayed(stack: CampaignStack) -> bool:
    return await stack.pool.fetchval("SELECT count(*) FROM projection_replays") == 0


async def test_a_merged_persons_consent_and_zone_follow_them_to_the_survivor(stack: CampaignStack) -> None:
    """A visitor consents on a device, then logs in to the account: identity merges the device's
    person into the account's, and campaign's consent and time zone move with it."""
    cohort = token()
    [member] = await stack.shoppers_of(cohort, 1, consent=())  # the account: no consent of its own yet
    segment = await stack.segment(cohort, 1)
    launched = await stack.launched(emailing(f"merge-{cohort}", segment, on_order_over(100)))
    device = Shopper(user_id="", anonymous_id=f"device-{cohort}", timezone="Asia/Tokyo")
    given = ev.ConsentChanged(purpose=ev.CONSENT_PURPOSE_MARKETING, channel=ev.CONTACT_CHANNEL_EMAIL, granted=True)
    consent = event_of(device, consent_changed=given)
    await stack.track(consent)
    login = event_of(member, logged_in=ev.LoggedIn(method="password"))
    login.identifiers.anonymous_id = device.anonymous_id
    await stack.track(login)
    await stack.until(lambda: _statement_of(stack, consent.event_id, member.person_id))

    await stack.track(order(member, 150))
    await stack.until(lambda: _count(stack, launched.campaign_id, 1))
    assert len(await mails_to(stack, member)) == 1


async def _statement_of(stack: CampaignStack, event_id: str, person_id: str) -> bool:
    owner = await stack.pool.fetchval("SELECT person_id FROM consent_statements WHERE event_id = $1", event_id)
    return bool(owner == person_id)
