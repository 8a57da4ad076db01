"""The projection: catalog versions, feedback weights, merges and splits, a rebuild that equals
the live tables, and a process killed with SIGKILL mid-batch that applies everything once.

One recommendation process for the module, no model (what is checked here is what the fold
keeps; Recommend shows it through exclusions, the person it answers for and cold starts).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye_devtools.stack import NatsServer, PostgresServer
from nats.aio.client import Client as NATS

from tests.platform.waiting import wait_until
from tests.profile.support import rebuild
from tests.recommendation import shop, support


@pytest.fixture(scope="module")
async def running(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> AsyncIterator[support.RecommendationUnderTest]:
    started = await support.start_recommendation(nc, nats_server, postgres, stack_dir / "projection")
    try:
        await shop.stock(started)
        yield started
    finally:
        await support.stop_recommendation(started)


async def weights(running: support.RecommendationUnderTest, person: str) -> dict[str, float]:
    rows = await running.pool.fetch("SELECT item_id, weight::float8 FROM person_items WHERE person_id = $1", person)
    return {r["item_id"]: r["weight"] for r in rows}


def ids(response: pb.RecommendResponse) -> list[str]:
    return [item.item_id for item in response.items]


async def test_the_newest_catalog_version_wins_and_a_deletion_stays(running: support.RecommendationUnderTest) -> None:
    later, older = support.at(20), support.at(10)
    await running.catalog.upsert(support.item("sku-v", "Garden/Tools", title="second"), when=later)
    await running.catalog.upsert(support.item("sku-v", "Garden/Tools", title="first"), when=older)  # arrives late
    await running.caught_up()
    await wait_until(lambda: _titled(running, "sku-v", "second"), within=30)

    await running.catalog.delete("sku-v", support.at(30))
    await running.catalog.upsert(support.item("sku-v", "Garden/Tools", title="revived"), when=support.at(25))
    await running.caught_up()

    await wait_until(lambda: _gone(running, "sku-v"), within=30)
    assert await running.pool.fetchval("SELECT deleted FROM items WHERE item_id = 'sku-v'") is True


async def _titled(running: support.RecommendationUnderTest, item_id: str, title: str) -> bool:
    try:
        response = await running.recommend("catalog-reader", k=100, candidate_item_ids=[item_id])
    except grpc.aio.AioRpcError as error:  # not in the serving process's catalog yet
        assert error.code() == grpc.StatusCode.NOT_FOUND
        return False
    return [i.title for i in response.items] == [title]


async def _gone(running: support.RecommendationUnderTest, item_id: str) -> bool:
    try:
        await running.api.SimilarItems(pb.SimilarItemsRequest(item_id=item_id, k=1))
    except grpc.aio.AioRpcError as error:
        return error.code() == grpc.StatusCode.NOT_FOUND
    return False


async def test_signals_weigh_as_configured_and_refunds_and_bad_reviews_subtract(
    running: support.RecommendationUnderTest,
) -> None:
    bad = support.event(support.at(43), review_submitted=ev.ReviewSubmitted(product_id=shop.sku(2), rating=1))
    fine = support.event(support.at(44), review_submitted=ev.ReviewSubmitted(product_id=shop.sku(3), rating=5))
    refund = support.event(support.at(45), order_refunded=ev.OrderRefunded(order_id="o-refunded"))
    cart = support.event(support.at(46), cart_item_added=ev.CartItemAdded(product_id=shop.sku(4)))
    wish = support.event(support.at(47), wishlist_item_added=ev.WishlistItemAdded(product_id=shop.sku(5)))
    await running.events.events(
        "weigher",
        support.viewed(shop.sku(1), support.at(40)),
        support.ordered([shop.sku(1)], support.at(41), order_id="o-refunded"),
        support.viewed(shop.sku(2), support.at(42)), bad, fine, refund, cart, wish,
    )  # fmt: skip
    await running.caught_up()

    assert await weights(running, "weigher") == {
        shop.sku(1): 1.0,  # view 1 + purchase 5 - refund 5
        shop.sku(2): -2.0,  # view 1 - bad review 3: stays, and pushes things like it down
        shop.sku(4): 3.0,
        shop.sku(5): 2.0,
    }
    response = await running.recommend("weigher", k=60, variant="control")
    assert shop.sku(1) in ids(response)  # refunded: no longer a purchase the filter hides


async def test_an_order_refunded_in_the_same_batch_is_taken_back(running: support.RecommendationUnderTest) -> None:
    refund = support.event(support.at(51), order_refunded=ev.OrderRefunded(order_id="o-quick"))
    await running.events.events("returner", support.ordered([shop.sku(6)], support.at(50), order_id="o-quick"), refund)
    await running.caught_up()

    response = await running.recommend("returner", k=5)

    assert await weights(running, "returner") == {shop.sku(6): 0.0}  # 5 - 5: not history any more
    assert {i.reason for i in response.items} == {pb.REASON_COLD_START}


async def test_a_merge_folds_the_merged_persons_history_into_the_survivor_once(
    running: support.RecommendationUnderTest,
) -> None:
    await running.events.events("survivor", support.viewed(shop.sku(7), support.at(60)))
    await running.events.events("merged", support.viewed(shop.sku(7), support.at(61)),
                                support.ordered([shop.sku(8)], support.at(62)))  # fmt: skip
    await running.events.merged("survivor", "merged")
    await running.events.events("merged", support.viewed(shop.sku(9), support.at(63)))  # late, under the old id
    await running.caught_up()

    response = await running.recommend("merged", k=60)

    assert response.person_id == "survivor" and shop.sku(8) not in ids(response)
    assert await weights(running, "survivor") == {shop.sku(7): 2.0, shop.sku(8): 5.0, shop.sku(9): 1.0}
    assert await weights(running, "merged") == {}


async def test_a_split_moves_exactly_the_listed_events(running: support.RecommendationUnderTest) -> None:
    kept, moved = support.viewed(shop.sku(10), support.at(70)), support.ordered([shop.sku(11)], support.at(71))
    await running.events.events("household", kept, moved, support.viewed(shop.sku(11), support.at(72)))
    await running.events.split("household", "partner", [moved.event_id])
    await running.caught_up()

    assert await weights(running, "household") == {shop.sku(10): 1.0, shop.sku(11): 1.0}
    assert await weights(running, "partner") == {shop.sku(11): 5.0}
    assert shop.sku(11) not in ids(await running.recommend("partner", k=60))
    assert shop.sku(11) in ids(await running.recommend("household", k=60))


async def test_a_rebuild_equals_the_live_projection(nc: NATS, running: support.RecommendationUnderTest) -> None:
    journeys = shop.journeys(seed=3)
    for person, events in list(journeys.items())[:40]:
        await running.events.events(person, *events)
    await running.events.events("clicker", support.viewed(shop.sku(12), support.at(90), recommendation_id="r-1"))
    await running.settled(nc)
    live = await running.table_hash()

    await asyncio.to_thread(running.service.stop)
    await rebuild(running.env, service="bullseye_recommendation")
    assert await running.pool.fetchval("SELECT count(*) FROM person_items") == 0
    await running.restart()
    await running.settled(nc)

    assert await running.table_hash() == live


async def test_a_process_killed_mid_batch_applies_every_record_once(
    nc: NATS, running: support.RecommendationUnderTest
) -> None:
    await running.restart(RECOMMENDATION_BATCH_SIZE="10")
    before = await _view_totals(running)
    journeys = shop.journeys(seed=11)
    for person, events in journeys.items():
        await running.events.events(f"k-{person}", *events)
    expected = sum(len(events) for events in journeys.values())

    await wait_until(lambda: _some_applied(running, before), within=60, every=0.01)
    assert running.service.proc is not None
    running.service.proc.send_signal(signal.SIGKILL)
    running.service.proc.wait()
    halfway = await _view_totals(running)
    await running.restart()
    await running.caught_up()

    assert before < halfway < before + expected  # killed mid-way
    assert await _view_totals(running) == before + expected  # every view once, none twice


async def _view_totals(running: support.RecommendationUnderTest) -> int:
    return int(await running.pool.fetchval("SELECT count(*) FROM interactions WHERE signal = 'view'"))


async def _some_applied(running: support.RecommendationUnderTest, before: int) -> bool:
    return await _view_totals(running) > before
