"""GetProfile answers from a stored base (reading/bases.py) exactly what a fresh fold gives.

The reference is `read.load_profiles`, the fold of the journal segments and BatchGetProfiles
use. The profile process's clock is pinned to support.NOW, so a plain GetProfile stores the
base as of NOW; reads `as_of` later times use it until the next window edge or later-dated
event, and fold past it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import grpc
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_profile.reading.load import load_profiles
from nats.aio.client import Client as NATS

from tests.profile.support import (
    NOW,
    ProfileUnderTest,
    ago,
    event,
    order,
    profile_running,
    start_profile,
    stop_profile,
    usd,
)

HOUR = timedelta(hours=1)


def rich_history() -> list[ev.Event]:
    """Every kind of fact a profile has, with the nearest window edge 2.4 h after NOW (a view
    0.9 days old leaves the 1-day window) and one event dated 3 h after NOW."""
    item = ev.LineItem(product_id="sku", quantity=1, unit_price=usd(120), category="audio", brand="Sonos")
    consent = ev.ConsentChanged(purpose=ev.CONSENT_PURPOSE_MARKETING, channel=ev.CONTACT_CHANNEL_EMAIL, granted=True)
    return [
        event(ago(400), identified=ev.Identified(traits=ev.Traits(birth_year=1990, city="Lyon"))),
        event(ago(40), consent_changed=consent),
        event(ago(35), order_completed=ev.OrderCompleted(order_id="o-1", items=[item])),
        order(ago(12), 80.0),
        event(ago(6), product_viewed=ev.ProductViewed(product_id="b", category="books", price=usd(15))),
        event(ago(0.9), product_viewed=ev.ProductViewed(product_id="c", category="audio", price=usd(90))),
        event(ago(hours=2), cart_item_added=ev.CartItemAdded(cart_id="c", product_id="c", price=usd(90))),
        event(NOW + 3 * HOUR, page_viewed=ev.PageViewed(name="home", category="books")),
    ]


async def fold(profile: ProfileUnderTest, person_id: str, as_of: datetime) -> pb.Profile:
    async with profile.pool.acquire() as conn:
        return (await load_profiles(conn, [person_id], as_of))[person_id]


async def stored(profile: ProfileUnderTest, person_id: str) -> tuple[bytes | None, datetime, datetime | None]:
    row = await profile.pool.fetchrow(
        "SELECT base, computed_at, valid_until FROM profile_snapshots WHERE person_id = $1", person_id
    )
    assert row is not None, "no snapshot row"
    return row["base"], row["computed_at"], row["valid_until"]


async def test_reads_from_the_stored_base_equal_a_fresh_fold_on_both_sides_of_its_edges(
    profile: ProfileUnderTest,
) -> None:
    await profile.feed.events("p-read", *rich_history())
    await profile.caught_up()

    now = await profile.get("p-read")

    assert now == await fold(profile, "p-read", NOW)
    base, computed_at, valid_until = await stored(profile, "p-read")
    assert base is not None and computed_at == NOW
    assert valid_until == ago(0.9) + timedelta(days=1)  # before the later-dated event (NOW + 3 h)
    edge = valid_until
    # Inside the base's validity (decayed affinities, churn risk, cart abandonment move on) and
    # past each of its edges: the 1-day window edge, the later-dated event, the 30-day edge.
    for as_of in (NOW + HOUR, edge - timedelta(microseconds=1), edge, NOW + 3 * HOUR, ago(-35.5)):
        assert await profile.get("p-read", as_of=as_of) == await fold(profile, "p-read", as_of), as_of
    assert await stored(profile, "p-read") == (base, NOW, edge)  # reads as_of another time store nothing
    inside = await profile.get("p-read", as_of=edge - timedelta(microseconds=1))
    past = await profile.get("p-read", as_of=edge)
    assert (inside.behaviour.counts_1d.product_viewed, past.behaviour.counts_1d.product_viewed) == (1, 0)


@pytest.fixture
async def uncached(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> AsyncIterator[ProfileUnderTest]:
    """A profile process without its read cache: every read goes to the stored base."""
    async with profile_running(nc, nats_server, postgres, stack_dir, PROFILE_READ_CACHE_SIZE="0") as started:
        yield started


async def test_reads_inside_the_validity_use_the_stored_base_and_others_fold(uncached: ProfileUnderTest) -> None:
    profile = uncached  # the base is edited behind the process's back, which a cache would not hear of
    await profile.feed.events("p-used", order(ago(2), 10.0))
    await profile.caught_up()
    await profile.get("p-used")
    marked = pb.Profile(person_id="p-used", traits=pb.Traits(city="from-the-snapshot"))
    marked.behaviour.first_seen.FromDatetime(ago(2))
    marked.behaviour.last_seen.FromDatetime(ago(2))
    await profile.pool.execute(
        "UPDATE profile_snapshots SET base = $2 WHERE person_id = $1", "p-used", marked.SerializeToString()
    )

    assert (await profile.get("p-used")).traits.city == "from-the-snapshot"
    assert (await profile.get("p-used", as_of=ago(1))).traits.city == ""  # before computed_at: folded
    assert (await profile.get("p-used", as_of=ago(-5.5))).traits.city == ""  # past the 7-day edge: folded
    await profile.pool.execute("UPDATE profile_snapshots SET fingerprint = 'other code or thresholds'")
    assert (await profile.get("p-used")).traits.city == ""  # built by another version: folded


async def test_a_new_event_or_a_merge_replaces_the_stored_base(profile: ProfileUnderTest) -> None:
    await profile.feed.events("p-keep", order(ago(3), 10.0))
    await profile.feed.events("p-gone", order(ago(4), 5.0), order(ago(50), 7.0))
    await profile.caught_up()
    assert (await profile.get("p-keep")).value.orders == 1
    assert (await profile.get("p-gone")).value.orders == 2

    await profile.feed.events("p-keep", order(ago(1), 20.0))
    await profile.caught_up()
    assert (await profile.get("p-keep")).value.orders == 2
    await profile.feed.merged("p-keep", "p-gone")
    await profile.caught_up()

    survivor = await profile.get("p-keep")
    assert survivor == await fold(profile, "p-keep", NOW)
    assert (survivor.value.orders, list(survivor.merged_person_ids)) == (4, ["p-gone"])
    assert await profile.get("p-gone") == survivor  # the merged id answers with its survivor


async def test_rfm_standing_shows_at_once_on_a_stored_base(profile: ProfileUnderTest) -> None:
    await profile.feed.events("p-rfm", order(ago(3), 10.0))
    await profile.caught_up()
    before = await profile.get("p-rfm")

    await profile.api.RecomputeRfm(pb.RecomputeRfmRequest())

    after = await profile.get("p-rfm")
    assert not before.value.HasField("rfm") and after.value.rfm.frequency == 1
    assert after == await fold(profile, "p-rfm", NOW)


async def test_an_unknown_person_is_not_found_and_stores_nothing(profile: ProfileUnderTest) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await profile.get("p-nobody")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert await profile.pool.fetchval("SELECT count(*) FROM profile_snapshots WHERE person_id = 'p-nobody'") == 0


async def test_a_base_past_its_validity_is_folded_again_and_stored_for_the_new_time(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> None:
    first = await start_profile(nc, nats_server, postgres, stack_dir / "logs")
    try:
        await first.feed.events("p-later", *rich_history())
        await first.caught_up()
        await first.get("p-later")
    finally:
        await stop_profile(first)
    later = NOW + 4 * HOUR  # past the 1-day edge and the later-dated event
    second = await start_profile(
        nc, nats_server, postgres, stack_dir / "logs", fixed_now=later, stream=first.feed.spec, schema=first.schema
    )
    try:
        assert await second.get("p-later") == await fold(second, "p-later", later)
        _, computed_at, valid_until = await stored(second, "p-later")
        assert (computed_at, valid_until) == (later, ago(hours=2) + timedelta(days=1))  # the cart add's 1-day edge
    finally:
        await stop_profile(second)


async def test_reads_go_on_after_postgresql_ends_the_read_connections(profile: ProfileUnderTest) -> None:
    await profile.feed.events("p-lost", order(ago(2), 10.0))
    await profile.caught_up()
    before = await profile.get("p-lost")
    ended = (
        await profile.pool.fetchval(  # the read connections (reading/connections.py), as a restart or failover would
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            f"bullseye-{profile.schema}-reads",
        )
    )

    assert ended > 0
    assert await profile.get("p-lost") == before
