"""Recommend, SimilarItems and Popular through gRPC, on a real process with a published model.

One recommendation process for the module (its own schema and streams), the shop of
shop.py folded, and a model trained on its projection, registered and published. The
model's scores through Recommend are compared with the trainer's numpy reference; the
rest checks the contract: filters, cold start, the session, content for new items,
consent, variants, and the errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import grpc
import numpy as np
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2
from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_recommendation.adapters.projection_source import read_projection
from bullseye_recommendation.domain.feedback import FeedbackWeights, Signal, fold
from bullseye_recommendation.model import export
from bullseye_recommendation.model.linear import LinearItemModel
from bullseye_recommendation.projections import popularity
from bullseye_recommendation.registry.registry import Registry
from bullseye_recommendation.training.pipeline import TrainSettings, train
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from nats.aio.client import Client as NATS

from tests.platform.waiting import wait_until
from tests.recommendation import shop, support

BLENDS = (
    "default=collaborative:1;product-page=collaborative:0.4,content:0.3,popular:0.15,session:0.15;"
    "new-items=content:1;hybrid=collaborative:0.4,content:0.3,popular:0.15,session:0.15"
)
TOLERANCE = 1e-5
HALF_LIFE = 7 * 86400.0  # RECOMMENDATION_POPULARITY_HALF_LIFE's default


@dataclass
class Shop:
    running: support.RecommendationUnderTest
    journeys: dict[str, list[ev.Event]]
    model: LinearItemModel  # the trainer's reference of the served model
    items: list[str]  # the model's item index


@pytest.fixture(scope="module")
async def served(nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path) -> AsyncIterator[Shop]:
    running = await support.start_recommendation(
        nc, nats_server, postgres, stack_dir / "recommend-api", RECOMMENDATION_BLENDS=BLENDS,
        RECOMMENDATION_VARIANTS="control=1,hybrid=1",
    )  # fmt: skip
    try:
        journeys = await shop.open_shop(running)
        dataset = await read_projection(running.pool)
        trained = await asyncio.to_thread(train, dataset, TrainSettings(family="sequence"))
        export.write(running.model_dir / "reference", trained.model, dataset.item_ids, {"family": "sequence"})
        registry = Registry(pool=running.pool, storage=running.model_dir, subject_prefix="-", tolerance=0,
                            now=lambda: support.START)  # fmt: skip
        await registry.register("reference")
        await running.api.PublishModel(pb.PublishModelRequest(version="reference", reason="test"))
        await running.serving("reference")
        yield Shop(running, journeys, trained.model, dataset.item_ids)
    finally:
        await support.stop_recommendation(running)


def ids(response: pb.RecommendResponse | pb.SimilarItemsResponse | pb.PopularResponse) -> list[str]:
    return [item.item_id for item in response.items]


def reasons(response: pb.RecommendResponse) -> set[int]:
    return {item.reason for item in response.items}


async def test_the_model_scores_through_recommend_equal_the_trainers(served: Shop) -> None:
    person = shop.shopper(3)
    viewed = [e.product_viewed.product_id for e in served.journeys[person]]
    index = {item: n for n, item in enumerate(served.items)}
    history = fold([(index[i], Signal.VIEW) for i in viewed], FeedbackWeights())
    candidates = [shop.sku(n) for n in range(0, 60, 3)]

    response = await served.running.recommend(person, k=100, candidate_item_ids=candidates, variant="control")

    got = {item.item_id: item.score for item in response.items}
    reference = served.model.candidate_scores(history, np.array([index[c] for c in got]))
    assert set(got) == set(candidates)
    np.testing.assert_allclose(list(got.values()), reference, rtol=0, atol=TOLERANCE)
    assert response.model_version == "reference" and reasons(response) <= {pb.REASON_COLLABORATIVE, pb.REASON_POPULAR}


async def test_what_most_shoppers_view_next_comes_first_with_the_model_as_reason(served: Shop) -> None:
    await served.running.events.events("next-shopper", support.viewed(shop.sku(10), support.at(500)))
    await served.running.caught_up()

    response = await served.running.recommend("next-shopper", k=3, variant="control")

    assert ids(response)[0] == shop.next_after(10)
    assert response.items[0].reason == pb.REASON_COLLABORATIVE
    assert response.person_id == "next-shopper" and response.recommendation_id


async def test_the_session_moves_the_ranking_toward_what_follows_it(served: Shop) -> None:
    person = shop.shopper(5)
    without = await served.running.recommend(person, k=5, variant="control")
    current = next(n for n in range(20, 60) if shop.next_after(n) != ids(without)[0])
    context = pb.Context(placement="product-page", current_item_id=shop.sku(current), session_item_ids=[shop.sku(41)])

    during = await served.running.recommend(person, k=5, context=context, variant="control")

    assert ids(during)[0] == shop.next_after(current)
    assert shop.next_after(41) in ids(during)
    assert {shop.sku(current), shop.sku(41)}.isdisjoint(ids(during))  # on screen, just seen: not shown again
    assert reasons(during) & {pb.REASON_SESSION, pb.REASON_COLLABORATIVE}


async def test_filters_leave_out_purchases_stock_unpublished_named_items_and_categories(served: Shop) -> None:
    running = served.running
    first, bought, gone, hidden = shop.sku(30), shop.next_after(30), shop.next_after(33), shop.next_after(36)
    await running.catalog.upsert(
        shop.item_of(gone, in_stock=False), shop.item_of(hidden, published=False), when=support.at(600)
    )
    await running.events.events(
        "buyer",
        support.viewed(first, support.at(601)),
        support.ordered([bought], support.at(602)),
        support.viewed(shop.sku(33), support.at(603)),
        support.viewed(shop.sku(36), support.at(604)),
    )
    await running.caught_up()
    await wait_until(lambda: _hidden(running, {gone, hidden}), within=30)
    everything = await running.recommend("buyer", k=60, variant="control")
    assert {bought, gone, hidden}.isdisjoint(ids(everything))

    again = pb.Filters(exclude_purchased=False, exclude_out_of_stock=False, exclude_item_ids=[shop.sku(0)],
                       exclude_categories=["Garden"])  # fmt: skip
    loose = await running.recommend("buyer", k=60, filters=again, variant="control")

    assert {bought, gone} <= set(ids(loose)) and hidden not in ids(loose) and shop.sku(0) not in ids(loose)
    assert not [i for i in loose.items if i.category_path[0] == "Garden"]


async def test_a_context_category_keeps_the_answer_in_it(served: Shop) -> None:
    response = await served.running.recommend(shop.shopper(7), k=10, context=pb.Context(category="Pans"))

    assert response.items and {tuple(i.category_path) for i in response.items} == {("Home", "Kitchen", "Pans")}


async def test_a_new_person_gets_popular_items_in_what_they_browsed_then_overall(served: Shop) -> None:
    running = served.running
    browsing = support.event(support.at(700), page_viewed=ev.PageViewed(name="category", category="Tools"))
    await running.events.events("newcomer", browsing)
    await running.caught_up()
    popular_tools = ids(await running.api.Popular(pb.PopularRequest(category="Tools", k=5)))

    response = await running.recommend("newcomer", k=25)

    assert ids(response)[:5] == popular_tools and reasons(response) == {pb.REASON_COLD_START}
    assert response.items[-1].category_path[0] == "Home"  # Tools has 20 items: then popular overall
    assert response.model_version == ""  # the model scored nothing


async def test_a_person_nobody_knows_gets_popular_items_not_an_error(served: Shop) -> None:
    popular = ids(await served.running.api.Popular(pb.PopularRequest(k=5)))

    response = await served.running.recommend("never-seen", k=5)

    assert ids(response) == popular and reasons(response) == {pb.REASON_COLD_START}


async def test_a_new_item_is_reachable_through_its_attributes(served: Shop) -> None:
    running = served.running
    fresh = support.item("sku-new", "Home/Kitchen/Knives", brand="brand-0", price=12.0, tags=("eco",))
    await running.catalog.upsert(fresh, when=support.at(800))
    await running.events.events("knife-fan", *[support.viewed(shop.sku(n), support.at(800 + n)) for n in (0, 12, 24)])
    await running.caught_up()
    await wait_until(lambda: _shown(running, "sku-new"), within=30)

    response = await running.recommend("knife-fan", k=8, context=pb.Context(placement="new-items"), variant="control")
    similar = await running.api.SimilarItems(pb.SimilarItemsRequest(item_id="sku-new", k=5))

    assert "sku-new" in ids(response) and response.items[ids(response).index("sku-new")].reason == pb.REASON_CONTENT
    assert similar.items and {i.category_path[-1] for i in similar.items} == {"Knives"}


async def _hidden(running: support.RecommendationUnderTest, item_ids: set[str]) -> bool:
    """Whether the serving process's catalog shows none of the items (it reloads on the projection's notice)."""
    return item_ids.isdisjoint(ids(await running.api.Popular(pb.PopularRequest(k=100))))


async def _shown(running: support.RecommendationUnderTest, item_id: str) -> bool:
    """Whether the serving process's catalog has the item (it reloads on the projection's notice)."""
    try:
        await running.api.SimilarItems(pb.SimilarItemsRequest(item_id=item_id, k=1))
    except grpc.aio.AioRpcError:
        return False
    return True


async def test_similar_items_come_from_the_model_and_the_attributes(served: Shop) -> None:
    response = await served.running.api.SimilarItems(pb.SimilarItemsRequest(item_id=shop.sku(4), k=5))

    assert shop.next_after(4) in ids(response) and shop.sku(4) not in ids(response)
    assert response.model_version == "reference"
    assert {i.reason for i in response.items} <= {pb.REASON_COLLABORATIVE, pb.REASON_CONTENT}


async def test_without_personalization_consent_only_the_context_counts(served: Shop) -> None:
    running = served.running
    person = shop.shopper(9)
    await running.events.events(person, support.consent(False, support.at(900)))
    await running.caught_up()
    popular = ids(await running.api.Popular(pb.PopularRequest(k=5)))

    refused = await running.recommend(person, k=5, variant="control")
    on_screen = await running.recommend(person, k=5, context=pb.Context(current_item_id=shop.sku(15)))

    assert ids(refused) == popular and refused.model_version == ""
    assert reasons(refused) == {pb.REASON_POPULAR} and reasons(on_screen) <= {pb.REASON_POPULAR, pb.REASON_CONTENT}
    await running.events.events(person, support.consent(True, support.at(901)))
    await running.caught_up()
    assert (await running.recommend(person, k=5, variant="control")).model_version == "reference"


async def test_a_person_keeps_one_variant_and_variants_are_spread(served: Shop) -> None:
    drawn = {person: (await served.running.recommend(person, k=1)).variant for person in served.journeys}

    again = {person: (await served.running.recommend(person, k=1)).variant for person in list(drawn)[:10]}

    assert all(variant == drawn[person] for person, variant in again.items())
    assert set(drawn.values()) == {"control", "hybrid"}
    assert 0.35 < list(drawn.values()).count("hybrid") / len(drawn) < 0.65


async def test_popular_ranks_by_decayed_popularity_within_a_category(served: Shop) -> None:
    weights = FeedbackWeights()
    scores: dict[str, float] = {}
    for events in served.journeys.values():  # no other test views a Tools item
        for e in events:
            age = (e.occurred_at.ToDatetime(tzinfo=UTC).timestamp() - popularity.EPOCH) / HALF_LIFE
            scores[e.product_viewed.product_id] = scores.get(e.product_viewed.product_id, 0.0) + weights.view * 2**age

    response = await served.running.api.Popular(pb.PopularRequest(category="Tools", k=5))

    tools = sorted((i for i in scores if shop.category_of(int(i[4:])) == "Garden/Tools"), key=lambda i: -scores[i])
    assert ids(response) == tools[:5]
    assert [i.score for i in response.items] == sorted((i.score for i in response.items), reverse=True)


def violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    found = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found.update({v.field: v.description for v in bad.field_violations})
    return found


@pytest.mark.parametrize(
    ("request_", "field", "says"),
    [
        (pb.RecommendRequest(person_id="p", k=0), "k", "100"),
        (pb.RecommendRequest(person_id="p", k=101), "k", "100"),
        (pb.RecommendRequest(k=5), "person", "person_id"),
        (pb.RecommendRequest(person_id="p", k=5, candidate_item_ids=["x"] * 1001), "candidate_item_ids", "1000"),
        (pb.RecommendRequest(person_id="p", k=5, variant="nope"), "variant", "control"),
    ],
    ids=["k-zero", "k-too-large", "no-person", "too-many-candidates", "unknown-variant"],
)
async def test_bad_requests_are_invalid_arguments_naming_the_limit(
    served: Shop, request_: pb.RecommendRequest, field: str, says: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await served.running.api.Recommend(request_)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert says in violations(caught.value)[field]


@pytest.mark.parametrize("token", ["abc", "-1", "²"], ids=["letters", "negative", "superscript-two"])
async def test_a_page_token_the_service_did_not_give_is_an_invalid_argument(served: Shop, token: str) -> None:
    # '²' passes str.isdigit() but not int(): found by tests/api/test_fuzz_requests.py as INTERNAL.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await served.running.api.ListModels(pb.ListModelsRequest(page_token=token))

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "next_page_token" in violations(caught.value)["page_token"]


async def test_unknown_items_and_categories_are_not_found(served: Shop) -> None:
    api = served.running.api
    calls = [
        api.Recommend(pb.RecommendRequest(person_id="p", k=5, context=pb.Context(current_item_id="sku-nope"))),
        api.Recommend(pb.RecommendRequest(person_id="p", k=5, candidate_item_ids=[shop.sku(1), "sku-nope"])),
        api.SimilarItems(pb.SimilarItemsRequest(item_id="sku-nope", k=5)),
        api.Popular(pb.PopularRequest(category="Nowhere", k=5)),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert "nope" in (caught.value.details() or "") or "Nowhere" in (caught.value.details() or "")


async def test_lookup_by_identifier_without_identity_says_what_to_configure(served: Shop) -> None:
    request = pb.RecommendRequest(k=5, identifier=identity_pb2.IdentifierRef(type=1, value="u-1"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await served.running.api.Recommend(request)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "RECOMMENDATION_IDENTITY_ADDRESS" in (caught.value.details() or "")
