"""Fixtures of the whole-API tests: ingestion, identity, profile, recommendation and campaign
as real processes, profile folding identity's own RESOLVED stream and asking identity for
identifiers, campaign folding RESOLVED and that profile's PROFILE, and a key of a verified
source that may load history."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess
from nats.aio.client import Client as NATS

from tests.api.contract import RawCaller
from tests.campaign.stack import campaign_env
from tests.conftest import create_key
from tests.profile.support import ProfileUnderTest
from tests.recommendation.support import RecommendationUnderTest, start_recommendation, stop_recommendation


@pytest.fixture(scope="package")
def profile(profile_on_identity: ProfileUnderTest) -> ProfileUnderTest:
    return profile_on_identity


@pytest.fixture(scope="package")
def till_key(ingestion_env: dict[str, str]) -> str:
    """A store till's key: a verified source (the clerk saw the card), allowed to load history."""
    return create_key(
        ingestion_env, "--source", "store-till", "--trust", "verified", "--backfill", "--rate", "100000",
        "--burst", "100000",
    )  # fmt: skip


@pytest.fixture(scope="package")
async def recommendation(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> AsyncIterator[RecommendationUnderTest]:
    """Recommendation on streams of its own, without a model (its RPCs answer from popularity)."""
    running = await start_recommendation(nc, nats_server, postgres, stack_dir / "api-recommendation")
    yield running
    await stop_recommendation(running)


@pytest.fixture(scope="package")
def campaign(
    nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, identity: ServiceProcess,
    profile: ProfileUnderTest,
) -> Iterator[ServiceProcess]:  # fmt: skip
    env = campaign_env(nats_server, postgres, identity=identity, profile=profile, schema="campaign_api", tag="api")
    started = ServiceProcess("campaign", "bullseye_campaign", env, stack_dir / "logs" / "campaign-api").start()
    yield started
    started.stop()


@pytest.fixture(scope="package")
def addresses(
    ingestion: ServiceProcess, identity: ServiceProcess, profile: ProfileUnderTest,
    recommendation: RecommendationUnderTest, campaign: ServiceProcess,
) -> dict[str, str]:  # fmt: skip
    """Where each service of the contract is served in these tests, by its full proto name."""
    return {
        "bullseye.ingestion.v1.IngestionService": ingestion.address,
        "bullseye.identity.v1.IdentityService": identity.address,
        "bullseye.profile.v1.ProfileService": profile.service.address,
        "bullseye.campaign.v1.CampaignService": campaign.address,
        "bullseye.recommendation.v1.RecommendationService": recommendation.service.address,
    }


@pytest.fixture(scope="package")
def raw_call(addresses: dict[str, str]) -> Iterator[RawCaller]:
    caller = RawCaller(addresses)
    yield caller
    caller.close()
