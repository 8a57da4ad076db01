"""Behaviour, traits, consent and value of a profile, through RESOLVED and GetProfile.

The profile process's clock is pinned to support.NOW, so every window is checked on both
sides of its edge.
"""

from __future__ import annotations

from bullseye.events.v1 import event_pb2 as ev
from bullseye.profile.v1 import profile_pb2 as pb

from tests.profile.support import NOW, ProfileUnderTest, ago, event, order, usd, view


async def test_counts_fall_into_every_rolling_window_by_event_time(profile: ProfileUnderTest) -> None:
    # One page view just inside each window edge and one just outside it.
    ages = [0.5, 1.01, 6.9, 7.01, 29.9, 30.01, 89.9, 90.01, 400]
    await profile.feed.events("p-windows", *(view(ago(days)) for days in ages))
    await profile.caught_up()

    b = (await profile.get("p-windows")).behaviour

    assert b.counts_1d.page_viewed == 1
    assert b.counts_7d.page_viewed == 3
    assert b.counts_30d.page_viewed == 5
    assert b.counts_90d.page_viewed == 7
    assert b.counts_lifetime.page_viewed == 9
    assert b.counts_lifetime.total == 9
    assert b.first_seen.ToDatetime(tzinfo=NOW.tzinfo) == ago(400)
    assert b.last_seen.ToDatetime(tzinfo=NOW.tzinfo) == ago(0.5)
    assert b.last_at.page_viewed.ToDatetime(tzinfo=NOW.tzinfo) == ago(0.5)
    assert not b.last_at.HasField("order_completed")


async def test_as_of_moves_the_windows_and_leaves_out_later_events(profile: ProfileUnderTest) -> None:
    await profile.feed.events("p-asof", view(ago(10)), view(ago(3)), view(ago(1.5)))
    await profile.caught_up()

    then = await profile.get("p-asof", as_of=ago(2))

    assert then.behaviour.counts_lifetime.page_viewed == 2
    assert then.behaviour.counts_1d.page_viewed == 0
    assert then.behaviour.counts_7d.page_viewed == 1  # 3 days before now is 1 day before as_of
    assert then.behaviour.counts_30d.page_viewed == 2
    assert then.as_of.ToDatetime(tzinfo=NOW.tzinfo) == ago(2)


async def test_an_event_delivered_twice_is_counted_once(profile: ProfileUnderTest) -> None:
    once = view(ago(1), event_id="e-dup-0001")
    await profile.feed.events("p-dup", once)
    # A repeat after the log's duplicate window has a new message id but the same event id.
    await profile.feed.events("p-dup", once, order(ago(0.1), 10.0))
    await profile.caught_up()

    b = (await profile.get("p-dup")).behaviour

    assert b.counts_lifetime.page_viewed == 1
    assert b.counts_lifetime.order_completed == 1


async def test_sessions_channel_device_and_local_active_hours(profile: ProfileUnderTest) -> None:
    base = ago(2).replace(hour=0, minute=0)  # 00:00 UTC
    tokyo = "Asia/Tokyo"  # UTC+9: 00:00 UTC is 09:00 local
    events = [
        view(base, timezone=tokyo),
        view(base.replace(minute=10), timezone=tokyo),  # same session (10 minutes later)
        view(base.replace(hour=14), timezone=tokyo),  # 23:00 local, a new session
    ]
    last = view(base.replace(hour=15))
    last.context.channel = ev.CHANNEL_APP
    last.context.device.type = "mobile"
    await profile.feed.events("p-habits", *events, last)
    await profile.caught_up()

    b = (await profile.get("p-habits")).behaviour

    assert b.sessions == 3  # 00:00 + 00:10, then 14:00, then 15:00 (gaps over 30 minutes)
    assert b.last_channel == ev.CHANNEL_APP
    assert b.last_device_type == "mobile"
    assert b.timezone == tokyo
    assert b.active_hours.hours[9] == 2
    assert b.active_hours.hours[23] == 1
    assert b.active_hours.hours[15] == 1  # no time zone on the event: UTC
    assert b.active_hours.peak_hour == 9
    assert b.active_hours.night_share == 0.25


async def test_value_counts_orders_refunds_and_the_90_day_revenue(profile: ProfileUnderTest) -> None:
    refund = event(ago(5), order_refunded=ev.OrderRefunded(order_id="o-1", amount=usd(20)))
    discounted = order(ago(10), 50.0)
    discounted.order_completed.coupon = "SPRING"
    await profile.feed.events("p-value", order(ago(200), 100.0), discounted, order(ago(1), 30.5), refund)
    await profile.caught_up()

    v = (await profile.get("p-value")).value

    assert (v.orders, v.revenue, v.refunds, v.refunded_amount) == (3, 180.5, 1, 20.0)
    assert v.average_order_value == 180.5 / 3
    assert v.revenue_90d == 80.5
    assert v.discounted_orders == 1
    assert v.currency == "USD"
    assert v.first_purchase_at.ToDatetime(tzinfo=NOW.tzinfo) == ago(200)
    assert v.last_purchase_at.ToDatetime(tzinfo=NOW.tzinfo) == ago(1)


async def test_affinities_decay_with_age_and_price_band_follows_what_is_bought(profile: ProfileUnderTest) -> None:
    item = ev.LineItem(product_id="sku", quantity=2, unit_price=usd(600), category="audio", brand="Sonos")
    bought = event(ago(0), order_completed=ev.OrderCompleted(order_id="o-a", items=[item]))
    old_views = [event(ago(60), product_viewed=ev.ProductViewed(product_id="b", category="books")) for _ in range(3)]
    await profile.feed.events("p-taste", bought, *old_views)
    await profile.caught_up()

    b = (await profile.get("p-taste")).behaviour

    # audio: one interaction today (1.0); books: three 60 days ago, halved twice (3 * 0.25).
    assert [(a.name, round(a.score, 6)) for a in b.top_categories] == [("audio", 1.0), ("books", 0.75)]
    assert [a.name for a in b.top_brands] == ["Sonos"]
    assert b.price_band == pb.PRICE_BAND_PREMIUM


async def test_cart_abandoned_until_an_order_follows(profile: ProfileUnderTest) -> None:
    add = event(ago(hours=5), cart_item_added=ev.CartItemAdded(cart_id="c", product_id="x", price=usd(5)))
    await profile.feed.events("p-cart", add)
    await profile.caught_up()
    abandoned = await profile.get("p-cart")
    assert abandoned.behaviour.cart_abandoned
    assert "cart_abandoner" in {t.name for t in abandoned.tags}
    assert not (await profile.get("p-cart", as_of=ago(hours=4.5))).behaviour.cart_abandoned  # too recent then

    await profile.feed.events("p-cart", order(ago(hours=1), 5.0))
    await profile.caught_up()
    assert not (await profile.get("p-cart")).behaviour.cart_abandoned


async def test_traits_keep_the_latest_value_of_each_trait(profile: ProfileUnderTest) -> None:
    first = ev.Traits(gender="f", birth_year=1990, city="Lyon", country="FR", custom={"pet": "cat"})
    later = ev.Traits(city="Paris", membership_tier="gold", custom={"team": "blue"})
    await profile.feed.events(
        "p-traits",
        event(ago(2), identified=ev.Identified(traits=later)),
        event(ago(9), identified=ev.Identified(traits=first)),  # older, arrives later: loses on city
    )
    await profile.caught_up()

    t = (await profile.get("p-traits")).traits

    assert (t.gender, t.birth_year, t.city, t.country, t.membership_tier) == ("f", 1990, "Paris", "FR", "gold")
    assert t.age_band == "35-44"  # 2026 - 1990 = 36
    assert dict(t.custom) == {"pet": "cat", "team": "blue"}


async def test_consent_per_purpose_and_channel_with_source_and_time(profile: ProfileUnderTest) -> None:
    def consent(days: float, channel: int, granted: bool, source: str) -> ev.Event:
        purpose = ev.CONSENT_PURPOSE_MARKETING
        change = ev.ConsentChanged(purpose=purpose, channel=channel, granted=granted, source=source)
        return event(ago(days), consent_changed=change)

    await profile.feed.events(
        "p-consent",
        consent(5, ev.CONTACT_CHANNEL_ALL, True, "signup-form"),
        consent(1, ev.CONTACT_CHANNEL_SMS, False, "unsubscribe-link"),
    )
    await profile.caught_up()

    c = (await profile.get("p-consent")).consent

    assert c.marketing.email.granted and c.marketing.email.source == "signup-form"
    assert not c.marketing.sms.granted and c.marketing.sms.source == "unsubscribe-link"
    assert c.marketing.sms.updated_at.ToDatetime(tzinfo=NOW.tzinfo) == ago(1)
    assert c.marketing.push.granted
    assert not c.analytics.email.HasField("updated_at")  # never stated
