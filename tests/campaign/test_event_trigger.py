"""An event-triggered campaign end to end: an order over 100 enters its shopper, who gets one email
at the SMTP sink, with the idempotency key in its Message-ID; the decision and the delivery are
recorded and the facts reach CAMPAIGN."""

from __future__ import annotations

from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import records_pb2 as rpb

from tests.campaign import definitions as d
from tests.campaign.stack import CampaignStack, order, token

C = cpb.Channel


def email_campaign(campaign_id: str, segment: str) -> cpb.Campaign:
    return cpb.Campaign(
        campaign_id=campaign_id, name="Thank you", audience=cpb.Audience(segment_id=segment),
        entry=cpb.Entry(event=cpb.EventTrigger(event=d.order_over(100))),
        re_entry=cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_EVERY_TIME), channels=[C.CHANNEL_EMAIL],
        variants=[cpb.Variant(variant_id="a", weight=100, contents=[cpb.Content(
            channel=C.CHANNEL_EMAIL, subject="Thanks {{ traits.first_name }}",
            body="Order {{ trigger.order_id }}: {{ trigger.revenue }} {{ trigger.revenue_currency }}")])],
        goal=cpb.ConversionGoal(event=cpb.EventFilter(event_type="order_completed"), attribution_window=d.hours(72)),
    )  # fmt: skip


async def test_an_order_over_100_gets_one_email_with_its_key_in_the_message_id(stack: CampaignStack) -> None:
    cohort = token()
    [buyer, small] = await stack.shoppers_of(cohort, 2)
    segment = await stack.segment(cohort, 2)
    campaign = await stack.launched(email_campaign(f"thanks-{cohort}", segment))
    assert campaign.state == cpb.CAMPAIGN_STATE_RUNNING

    big_order = order(buyer, 150, order_id="o-1")
    await stack.track(big_order, order(small, 20))
    await stack.until(lambda: _received(stack, 1))

    [mail] = stack.sinks.received
    assert mail.person_id == buyer.person_id and mail.address == buyer.email
    assert mail.subject == "Thanks Sam" and "Order o-1: 150.0 EUR" in mail.body
    delivery = (await stack.api.ListDeliveries(apb.ListDeliveriesRequest(campaign_id=campaign.campaign_id))).deliveries
    assert [x.message_id for x in delivery] == [mail.key]
    assert delivery[0].status == rpb.DELIVERY_STATUS_SENT and delivery[0].occurrence_id == big_order.event_id


async def _received(stack: CampaignStack, count: int) -> bool:
    return len(stack.sinks.received) >= count
