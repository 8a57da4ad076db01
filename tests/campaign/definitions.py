"""A complete, valid campaign to start each test from (tests break one thing at a time)."""

from __future__ import annotations

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.profile.v1 import segments_pb2 as spb
from google.protobuf import duration_pb2
from google.type import money_pb2, timeofday_pb2

C = cpb.Channel


def hours(n: float) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=int(n * 3600))


def order_over(amount: float) -> cpb.EventFilter:
    return cpb.EventFilter(
        event_type="order_completed",
        conditions=[cpb.EventCondition(field="revenue", op=spb.OPERATOR_GT, value=spb.Literal(double_value=amount))],
    )


def variant(variant_id: str, weight: int) -> cpb.Variant:
    return cpb.Variant(
        variant_id=variant_id,
        name=f"variant {variant_id}",
        weight=weight,
        contents=[
            cpb.Content(channel=C.CHANNEL_PUSH, title="Hi {{ traits.first_name }}", body="{{ items[0].title }}"),
            cpb.Content(
                channel=C.CHANNEL_EMAIL, subject="For you", body="Dear {{ traits.first_name | default: 'you' }}"
            ),
        ],
    )


def campaign() -> cpb.Campaign:
    return cpb.Campaign(
        campaign_id="spring-sale",
        name="Spring sale",
        audience=cpb.Audience(segment_id="cart-abandoners", exclude_segment_ids=["staff"]),
        entry=cpb.Entry(event=cpb.EventTrigger(event=order_over(100))),
        re_entry=cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_ONCE_PER_PERIOD, period=hours(24 * 7)),
        exit=cpb.Exit(on_conversion=True, on_segment_exit=True),
        channels=[C.CHANNEL_PUSH, C.CHANNEL_EMAIL],
        variants=[variant("a", 50), variant("b", 50)],
        holdout_percent=10,
        goal=cpb.ConversionGoal(event=cpb.EventFilter(event_type="order_completed"), attribution_window=hours(72)),
        rollout=cpb.Rollout(stage_percents=[5, 20, 100], advance=cpb.ROLLOUT_ADVANCE_MANUAL),
        limits=cpb.Limits(
            caps=[
                cpb.FrequencyCap(channel=C.CHANNEL_PUSH, max_messages=3, window=cpb.CapWindow(calendar_days=1)),
                cpb.FrequencyCap(max_messages=1, window=cpb.CapWindow(rolling=hours(24))),
            ],
            lifetime_cap=3,
            quiet_hours=cpb.QuietHours(start=timeofday_pb2.TimeOfDay(hours=22), end=timeofday_pb2.TimeOfDay(hours=8)),
            send_rates=[cpb.SendRate(channel=C.CHANNEL_EMAIL, per_second=500)],
            default_time_zone="Europe/Paris",
        ),
        costs=[cpb.ChannelCost(channel=C.CHANNEL_EMAIL, cost=money_pb2.Money(currency_code="EUR", nanos=2_000_000))],
    )
