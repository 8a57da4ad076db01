"""The whole pipeline on generated traffic: ingestion -> identity -> recommendation.

The session's ingestion and identity; a recommendation process reading the session's
RESOLVED and CATALOG (its own schema and RECO). A catalog feed publishes the shop, the
traffic generator's shoppers browse and buy through ingestion, identity resolves them, the
projection folds them, the real train command trains on it and publishes, and Recommend,
asked by a shopper's user id, answers through identity's Resolve with the published model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2
from bullseye.identity.v1 import identity_pb2_grpc as identity_grpc
from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess
from bullseye_devtools.traffic import generate, send
from bullseye_devtools.traffic.catalog import build_catalog
from bullseye_devtools.traffic.catalog_feed import catalog_changes, publish_catalog
from bullseye_recommendation.domain.signals import item_signals
from nats.aio.client import Client as NATS

from tests import channels
from tests.conftest import create_key
from tests.platform.waiting import wait_until
from tests.recommendation import support

SEED, SHOPPERS = 1401, 150


@pytest.fixture(scope="module")
async def pipeline(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, identity: ServiceProcess,
    ingestion: ServiceProcess, ingestion_env: dict[str, str],
) -> AsyncIterator[tuple[support.RecommendationUnderTest, list[ev.Event]]]:  # fmt: skip
    running = await support.start_recommendation(
        nc, nats_server, postgres, stack_dir / "pipeline", RECOMMENDATION_IDENTITY_ADDRESS=identity.address,
        RECOMMENDATION_RESOLVED_STREAM="RESOLVED", RECOMMENDATION_RESOLVED_SUBJECT_PREFIX="resolved",
        RECOMMENDATION_RESOLVED_PARTITIONS=ingestion_env["IDENTITY_PARTITIONS"],
        RECOMMENDATION_CATALOG_STREAM="CATALOG", RECOMMENDATION_CATALOG_SUBJECT_PREFIX="catalog",
        RECOMMENDATION_CATALOG_PARTITIONS="16",
    )  # fmt: skip
    try:
        feed = create_key(ingestion_env, "--source", "pipeline-catalog", "--catalog")
        changes = catalog_changes(build_catalog(SEED), at=support.START)
        await publish_catalog(changes, address=ingestion.address, api_key=feed)
        key = create_key(ingestion_env, "--source", "pipeline-shop", "--rate", "100000", "--burst", "20000")
        events = list(generate(SHOPPERS, SEED))
        sent = await send(events, address=ingestion.address, api_key=key)
        assert sent.rejected == 0, sent.rejections
        with_items = [e.event_id for e in events if item_signals(e)]
        await wait_until(lambda: _folded(running, with_items), within=120, every=0.2)
        yield running, events
    finally:
        await support.stop_recommendation(running)


async def _folded(running: support.RecommendationUnderTest, event_ids: list[str]) -> bool:
    found = await running.pool.fetchval(
        "SELECT count(DISTINCT event_id) FROM interactions WHERE event_id = ANY($1::text[])", event_ids
    )
    return int(found) == len(event_ids)


async def person_of(identity: ServiceProcess, user_id: str) -> str:
    ref = identity_pb2.IdentifierRef(type=identity_pb2.IDENTIFIER_TYPE_USER_ID, value=user_id)
    async with channels.channel(identity.address) as channel:
        reply = await identity_grpc.IdentityServiceStub(channel).Resolve(identity_pb2.ResolveRequest(identifiers=[ref]))
    return str(reply.person_id)


async def test_shoppers_from_ingestion_get_recommendations_from_a_model_trained_on_them(
    pipeline: tuple[support.RecommendationUnderTest, list[ev.Event]], identity: ServiceProcess
) -> None:
    running, events = pipeline
    trained = await running.train("--publish")
    assert trained["published"] and trained["items"] > 10, trained
    await running.serving(trained["version"])
    buyers = [e.identifiers.user_id for e in events if e.identifiers.user_id and item_signals(e)]
    user_id = max(sorted(set(buyers)), key=buyers.count)  # the most active shopper with an account (ties: the first id)

    request = pb.RecommendRequest(k=5, identifier=identity_pb2.IdentifierRef(type=1, value=user_id))
    response = await running.api.Recommend(request)

    assert response.person_id == await person_of(identity, user_id)
    assert response.model_version == trained["version"] and len(response.items) == 5
    assert {i.reason for i in response.items} & {pb.REASON_COLLABORATIVE, pb.REASON_POPULAR}
    assert all(i.title and i.category_path for i in response.items)  # from the published catalog


async def test_a_shopper_identity_has_never_seen_gets_a_cold_start(
    pipeline: tuple[support.RecommendationUnderTest, list[ev.Event]],
) -> None:
    running, _ = pipeline
    stranger = identity_pb2.IdentifierRef(type=identity_pb2.IDENTIFIER_TYPE_ANONYMOUS_ID, value="never-seen-device")

    response = await running.api.Recommend(pb.RecommendRequest(k=3, identifier=stranger))

    assert response.person_id == "" and len(response.items) == 3
    assert {i.reason for i in response.items} == {pb.REASON_COLD_START}
    assert response.variant == "control"
