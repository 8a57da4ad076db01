"""The traffic generator on its own: deterministic, plausible, and fake where it must be."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye_devtools.traffic import batched, generate, summarize
from bullseye_devtools.traffic.catalog import build_catalog
from bullseye_devtools.traffic.catalog_feed import catalog_changes
from bullseye_devtools.traffic.money import cents

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def events() -> list[ev.Event]:
    return list(generate(1500, 11, now=NOW))


def test_same_seed_and_clock_give_byte_identical_events() -> None:
    first = [e.SerializeToString() for e in generate(40, 3, now=NOW)]
    again = [e.SerializeToString() for e in generate(40, 3, now=NOW)]
    assert first == again


def test_event_ids_depend_on_the_seed_not_on_the_clock() -> None:
    ids = [e.event_id for e in generate(40, 3, now=NOW)]
    assert ids == [e.event_id for e in generate(40, 3, now=NOW + timedelta(hours=5))]
    assert not set(ids) & {e.event_id for e in generate(40, 4, now=NOW)}


def test_event_ids_are_unique_uuids(events: list[ev.Event]) -> None:
    ids = [e.event_id for e in events]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids[:500])


def test_shopper_events_come_in_time_order_within_the_live_window(events: list[ev.Event]) -> None:
    times = [e.occurred_at.ToDatetime(UTC) for e in events]
    assert times == sorted(times)
    assert min(times) >= NOW - timedelta(days=3, minutes=1)
    assert max(times) <= NOW - timedelta(minutes=1)
    # Every one is a shopper's: an app's or a site's visitor, or a till's customer by their phone.
    assert all(e.identifiers.anonymous_id or e.identifiers.user_id or e.identifiers.phone for e in events)


def test_the_catalog_feed_upserts_every_product_the_shoppers_browse_once(events: list[ev.Event]) -> None:
    catalog = build_catalog(11)
    changes = catalog_changes(catalog, at=NOW - timedelta(days=4))
    items = [c.upsert for c in changes]
    assert 200 <= len(items) <= 400 and len({i.item_id for i in items}) == len(items)
    assert all(i.published and i.title and i.category_path and i.price.currency_code == "EUR" for i in items)
    assert {i.updated_at.ToDatetime(UTC) for i in items} == {NOW - timedelta(days=4)}
    browsed = {e.product_viewed.product_id for e in events if e.HasField("product_viewed")}
    assert browsed and browsed <= {i.item_id for i in items}


def test_funnel_ratios_look_like_real_e_commerce(events: list[ev.Event]) -> None:
    truth = summarize(events)
    assert 0.08 <= truth.add_to_cart_rate <= 0.12
    assert 0.02 <= truth.conversion_rate <= 0.04
    assert 0.01 <= truth.refund_rate <= 0.09
    counts = [count for _, count in truth.funnel()]
    assert counts == sorted(counts, reverse=True) and counts[-1] > 0


def test_order_revenue_is_the_sum_of_its_lines(events: list[ev.Event]) -> None:
    orders = [e.order_completed for e in events if e.HasField("order_completed")]
    assert orders
    for order in orders:
        lines = sum(cents(item.unit_price) * item.quantity for item in order.items)
        assert cents(order.revenue) == lines and order.revenue.currency_code == "EUR"


def test_personal_data_is_obviously_fake(events: list[ev.Event]) -> None:
    people = [getattr(e, k).personal for e in events if (k := e.WhichOneof("payload")) in ("signed_up", "identified")]
    assert people
    assert all(p.email.strip().lower().endswith("@example.com") for p in people)
    phones = [re.sub(r"\D", "", p.phone) for p in people if p.phone]
    assert phones and all(n.startswith(("33600", "0600")) for n in phones)


def test_identity_material_links_devices_and_shares_devices(events: list[ev.Event]) -> None:
    devices_of: dict[str, set[str]] = defaultdict(set)
    users_of: dict[str, set[str]] = defaultdict(set)
    for e in events:
        if e.identifiers.user_id and e.identifiers.anonymous_id:
            devices_of[e.identifiers.user_id].add(e.identifiers.anonymous_id)
            users_of[e.identifiers.anonymous_id].add(e.identifiers.user_id)
    assert any(len(d) > 1 for d in devices_of.values()), "someone logs in on several devices"
    assert any(len(u) > 1 for u in users_of.values()), "someone's device is shared"
    channels = {e.context.channel for e in events}
    assert {ev.CHANNEL_APP, ev.CHANNEL_WEB, ev.CHANNEL_MINI_PROGRAM, ev.CHANNEL_STORE} <= channels


def test_batched_keeps_every_event_in_order(events: list[ev.Event]) -> None:
    batches = list(batched(events[:250], 100))
    assert [len(b) for b in batches] == [100, 100, 50]
    assert [e for b in batches for e in b] == events[:250]
