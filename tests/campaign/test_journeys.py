"""Triggers, waits, re-entry, exits and attribution: what a person's events do in a campaign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.events.v1 import event_pb2 as epb
from bullseye.profile.v1 import segments_pb2 as spb
from bullseye_campaign.domain.attribution import Touch, attribute
from bullseye_campaign.domain.events import matches
from bullseye_campaign.domain.journeys import (
    EVERY_WAIT,
    Standing,
    WaitChange,
    exit_reason,
    is_exit_event,
    on_event,
    re_entry_refusal,
)
from google.type import money_pb2

from tests.campaign.definitions import hours, order_over

T0 = datetime(2026, 1, 15, 12, tzinfo=UTC)


def order(amount: float) -> epb.Event:
    units = int(amount)
    revenue = money_pb2.Money(currency_code="EUR", units=units, nanos=round((amount - units) * 1e9))
    return epb.Event(order_completed=epb.OrderCompleted(order_id="o1", revenue=revenue))


def viewed(product: str) -> epb.Event:
    return epb.Event(product_viewed=epb.ProductViewed(product_id=product, category="knives"))


def carted(product: str) -> epb.Event:
    return epb.Event(cart_item_added=epb.CartItemAdded(product_id=product, quantity=1))


def test_order_completed_with_revenue_over_100_triggers() -> None:
    assert matches(order_over(100), order(100.5))
    assert not matches(order_over(100), order(100))
    assert not matches(order_over(100), epb.Event(order_completed=epb.OrderCompleted(order_id="no revenue")))
    assert not matches(order_over(100), viewed("p1"))


def test_enum_conditions_compare_without_the_type_prefix() -> None:
    clicked = cpb.EventFilter(
        event_type="message_interacted",
        conditions=[
            cpb.EventCondition(field="interaction", op=spb.OPERATOR_EQ, value=spb.Literal(string_value="clicked"))
        ],
    )
    event = epb.Event(message_interacted=epb.MessageInteracted(interaction=epb.MESSAGE_INTERACTION_CLICKED))
    assert matches(clicked, event)
    event.message_interacted.interaction = epb.MESSAGE_INTERACTION_OPENED
    assert not matches(clicked, event)


def test_a_string_condition_is_exact_not_an_enum() -> None:
    coupon = cpb.EventFilter(
        event_type="order_completed",
        conditions=[cpb.EventCondition(field="coupon", op=spb.OPERATOR_EQ, value=spb.Literal(string_value="save10"))],
    )
    assert not matches(coupon, epb.Event(order_completed=epb.OrderCompleted(coupon="SAVE10")))
    assert matches(coupon, epb.Event(order_completed=epb.OrderCompleted(coupon="save10")))


ABANDONED_VIEW = cpb.AfterEvent(
    after=cpb.EventFilter(event_type="product_viewed"),
    unless=cpb.EventFilter(event_type="cart_item_added"),
    correlate_on="product_id",
    delay=hours(1 / 6),
)


def test_a_view_starts_a_ten_minute_wait_for_that_product() -> None:
    change = on_event(ABANDONED_VIEW, viewed("knife"), T0)
    assert (change.cancel, change.start) == (None, ("product_id=knife", T0 + timedelta(minutes=10)))


def test_adding_that_product_to_the_cart_cancels_its_wait_only() -> None:
    assert on_event(ABANDONED_VIEW, carted("knife"), T0).cancel == "product_id=knife"
    assert on_event(ABANDONED_VIEW, carted("stone"), T0).cancel == "product_id=stone"


def test_no_login_for_3_days_restarts_the_wait_at_every_login() -> None:
    rule = cpb.AfterEvent(
        after=cpb.EventFilter(event_type="logged_in"), unless=cpb.EventFilter(event_type="logged_in"), delay=hours(72)
    )
    change = on_event(rule, epb.Event(logged_in=epb.LoggedIn()), T0)
    assert change.cancel == EVERY_WAIT
    assert change.start == (EVERY_WAIT, T0 + timedelta(days=3))


def test_24_hours_after_purchase_is_a_plain_delay() -> None:
    rule = cpb.AfterEvent(after=cpb.EventFilter(event_type="order_completed"), delay=hours(24))
    assert on_event(rule, order(20), T0).start == (EVERY_WAIT, T0 + timedelta(hours=24))
    assert on_event(rule, viewed("x"), T0) == WaitChange()  # an unrelated event changes nothing


@pytest.mark.parametrize(
    ("policy", "last", "refused"),
    [
        (cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_ONCE_EVER), None, False),
        (cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_ONCE_EVER), T0 - timedelta(days=900), True),
        (cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_ONCE_PER_PERIOD, period=hours(24 * 7)), T0 - timedelta(days=6), True),
        (cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_ONCE_PER_PERIOD, period=hours(24 * 7)), T0 - timedelta(days=7), False),
        (cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_EVERY_TIME), T0 - timedelta(seconds=1), False),
    ],
)
def test_re_entry_policies(policy: cpb.ReEntry, last: datetime | None, refused: bool) -> None:
    assert (re_entry_refusal(policy, last_entry_at=last, now=T0) is not None) == refused


def test_a_refused_re_entry_says_when_the_person_may_enter_again() -> None:
    policy = cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_ONCE_PER_PERIOD, period=hours(24))
    reason = re_entry_refusal(policy, last_entry_at=T0 - timedelta(hours=1), now=T0)
    assert reason == "entered 2026-01-15T11:00:00+00:00: once per period, again from 2026-01-16T11:00:00+00:00"


STAYING = Standing(in_audience=True, in_excluded_segment=False, converted=False, exit_event=False, campaign_ended=False)


@pytest.mark.parametrize(
    ("rules", "changes", "reason"),
    [
        (cpb.Exit(on_conversion=True), {"converted": True}, "converted"),
        (cpb.Exit(on_conversion=False), {"converted": True}, None),
        (cpb.Exit(on_segment_exit=True), {"in_audience": False}, "left the audience segment"),
        (cpb.Exit(on_segment_exit=True), {"in_excluded_segment": True}, "entered an excluded segment"),
        (cpb.Exit(), {"in_audience": False}, None),
        (cpb.Exit(), {"exit_event": True}, "an exit event happened"),
        (cpb.Exit(), {"campaign_ended": True}, "the campaign ended"),
        (cpb.Exit(on_conversion=True, on_segment_exit=True), {}, None),
    ],
)
def test_exit_rules(rules: cpb.Exit, changes: dict[str, bool], reason: str | None) -> None:
    standing = Standing(**{**STAYING.__dict__, **changes})
    assert exit_reason(rules, standing) == reason


def test_exit_events_match_their_filters() -> None:
    rules = cpb.Exit(on_events=[order_over(0)])
    assert is_exit_event(rules, order(5)) and not is_exit_event(rules, viewed("x"))


GOAL = cpb.ConversionGoal(event=cpb.EventFilter(event_type="order_completed"), attribution_window=hours(72))


def test_a_conversion_within_the_window_after_the_send_is_attributed() -> None:
    touches = [Touch("m1", T0)]
    assert attribute(GOAL, touches, T0 + timedelta(hours=72)) == "m1"
    assert attribute(GOAL, touches, T0 + timedelta(hours=72, seconds=1)) is None
    assert attribute(GOAL, touches, T0 - timedelta(seconds=1)) is None


def test_a_click_restarts_the_window_only_with_send_or_click() -> None:
    touches = [Touch("m1", T0, clicks=(T0 + timedelta(hours=48),))]
    later = T0 + timedelta(hours=100)
    assert attribute(GOAL, touches, later) is None
    with_clicks = cpb.ConversionGoal(attribution_window=hours(72), basis=cpb.ATTRIBUTION_BASIS_SEND_OR_CLICK)
    assert attribute(with_clicks, touches, later) == "m1"


def test_the_latest_touch_gets_the_credit_once() -> None:
    touches = [Touch("m1", T0), Touch("m2", T0 + timedelta(hours=10)), Touch("m3", T0 + timedelta(hours=30))]
    assert attribute(GOAL, touches, T0 + timedelta(hours=20)) == "m2"
