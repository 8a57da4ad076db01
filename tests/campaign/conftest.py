"""Fixtures of the campaign service tests: one campaign stack per module (tests/campaign/stack.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess
from nats.aio.client import Client as NATS

from tests.campaign.stack import CampaignStack, start_stack, stop_stack
from tests.conftest import create_key


@pytest.fixture(scope="module")
def shop_key(ingestion_env: dict[str, str], ingestion: ServiceProcess) -> str:
    return create_key(ingestion_env, "--source", "campaign-tests", "--rate", "100000", "--burst", "100000")


@pytest.fixture(scope="module")
async def stack(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, identity: ServiceProcess,
    ingestion: ServiceProcess, shop_key: str,
) -> AsyncIterator[CampaignStack]:  # fmt: skip
    started = await start_stack(nc, nats_server, postgres, stack_dir, identity=identity, ingestion=ingestion,
                                key=shop_key)  # fmt: skip
    yield started
    await stop_stack(started)
