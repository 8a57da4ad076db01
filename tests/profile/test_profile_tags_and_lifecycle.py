"""Tag rules (four families, versioned), lifecycle stages and churn risk over time."""

from __future__ import annotations

from datetime import timedelta

from bullseye.events.v1 import event_pb2 as ev
from bullseye.profile.v1 import profile_pb2 as pb

from tests.profile.support import ProfileUnderTest, ago, event, order, usd, view

L = pb.LifecycleStage


def tags(profile: pb.Profile) -> set[str]:
    return {t.name for t in profile.tags}


async def test_basic_tags_registered_mobile_and_reachable(profile: ProfileUnderTest) -> None:
    signed = event(ago(3), signed_up=ev.SignedUp(method="email"))
    signed.context.device.type = "mobile"
    consent = ev.ConsentChanged(purpose=ev.CONSENT_PURPOSE_MARKETING, channel=ev.CONTACT_CHANNEL_EMAIL, granted=True)
    await profile.feed.events("t-basic", signed, event(ago(4), consent_changed=consent))
    await profile.feed.events("t-none", view(ago(3)))
    await profile.caught_up()

    tagged, plain = await profile.get("t-basic"), await profile.get("t-none")

    assert {"registered", "mobile_user", "marketing_reachable"} <= tags(tagged)
    assert tags(plain) == set()
    family = {t.name: (t.family, t.version) for t in tagged.tags}
    assert family["registered"] == (pb.TAG_FAMILY_BASIC, 1)


async def test_high_activity_needs_three_interactions_in_seven_days(profile: ProfileUnderTest) -> None:
    await profile.feed.events("t-busy", view(ago(1)), view(ago(2)), view(ago(6.5)))
    await profile.feed.events("t-calm", view(ago(1)), view(ago(2)), view(ago(7.5)))
    await profile.caught_up()

    assert "high_activity" in tags(await profile.get("t-busy"))
    assert "high_activity" not in tags(await profile.get("t-calm"))


async def test_night_owl_is_most_activity_between_22_and_6_local_time(profile: ProfileUnderTest) -> None:
    day = ago(3).replace(hour=14, minute=0)  # 14:00 UTC = 23:00 in Tokyo, 15:00 in Paris (summer)
    await profile.feed.events("t-owl", view(day, timezone="Asia/Tokyo"), view(day, timezone="Asia/Tokyo"), view(day))
    await profile.feed.events("t-lark", view(day, timezone="Europe/Paris"), view(day, timezone="Asia/Tokyo"))
    await profile.caught_up()

    assert "night_owl" in tags(await profile.get("t-owl"))
    assert "night_owl" not in tags(await profile.get("t-lark"))  # exactly half is not most


async def test_preference_tags_price_sensitive_and_premium_taste(profile: ProfileUnderTest) -> None:
    coupon = order(ago(5), 40.0)
    coupon.order_completed.coupon = "SAVE10"
    cheap_views = [event(ago(2), product_viewed=ev.ProductViewed(product_id="p", price=usd(4.5))) for _ in range(2)]
    luxury = ev.LineItem(product_id="w", quantity=1, unit_price=usd(900))
    await profile.feed.events("t-coupons", coupon, order(ago(4), 40.0))
    await profile.feed.events("t-cheap", *cheap_views)
    await profile.feed.events("t-lux", event(ago(1), order_completed=ev.OrderCompleted(order_id="o", items=[luxury])))
    await profile.caught_up()

    assert "price_sensitive" in tags(await profile.get("t-coupons"))  # half of the orders discounted
    assert "price_sensitive" in tags(await profile.get("t-cheap"))  # low price band from views
    lux = await profile.get("t-lux")
    assert "premium_taste" in tags(lux) and "price_sensitive" not in tags(lux)


async def test_repeat_buyer_needs_two_orders(profile: ProfileUnderTest) -> None:
    await profile.feed.events("t-repeat", order(ago(10), 5.0), order(ago(200), 5.0))
    await profile.feed.events("t-once", order(ago(10), 5.0))
    await profile.caught_up()

    assert "repeat_buyer" in tags(await profile.get("t-repeat"))
    assert "repeat_buyer" not in tags(await profile.get("t-once"))


async def test_lifecycle_moves_from_new_to_stable_to_dormant_to_churned(profile: ProfileUnderTest) -> None:
    start = ago(400)
    orders = [order(start + timedelta(days=d), 20.0) for d in (0, 10, 20)]
    await profile.feed.events("l-life", *orders)
    await profile.caught_up()

    async def stage(days_after_start: float) -> int:
        return (await profile.get("l-life", as_of=start + timedelta(days=days_after_start))).lifecycle_stage

    assert await stage(5) == L.LIFECYCLE_STAGE_NEW
    assert await stage(40) == L.LIFECYCLE_STAGE_STABLE  # 3 orders, active within 60 days
    assert await stage(20 + 61) == L.LIFECYCLE_STAGE_DORMANT
    assert await stage(20 + 181) == L.LIFECYCLE_STAGE_CHURNED


async def test_lifecycle_growing_is_active_past_the_first_month_with_few_orders(profile: ProfileUnderTest) -> None:
    await profile.feed.events("l-grow", view(ago(45)), order(ago(5), 10.0))
    await profile.caught_up()

    assert (await profile.get("l-grow")).lifecycle_stage == L.LIFECYCLE_STAGE_GROWING


async def test_churn_risk_rises_with_idle_time_against_the_own_purchase_cadence(profile: ProfileUnderTest) -> None:
    start = ago(300)
    await profile.feed.events("l-churn", *(order(start + timedelta(days=d), 5.0) for d in (0, 10, 20)))
    await profile.caught_up()

    async def risk(idle_days: float) -> float:
        return (await profile.get("l-churn", as_of=start + timedelta(days=20 + idle_days))).value.churn_risk

    assert await risk(5) == 0.0  # inside the 10-day cadence
    assert await risk(20) == 0.5  # two cadences
    assert await risk(30) == 1.0
