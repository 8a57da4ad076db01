"""Fixtures of the ingestion contract tests: one channel and one write key per module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from bullseye_devtools.stack.services import ServiceProcess
from nats.aio.client import Client as NATS

from tests import channels
from tests.conftest import create_key
from tests.ingestion import helpers


@pytest.fixture(scope="module")
async def channel(ingestion: ServiceProcess) -> AsyncIterator[grpc.aio.Channel]:
    async with channels.channel(ingestion.address, caller=None) as opened:  # API keys per call
        yield opened


@pytest.fixture(scope="module")
def api(channel: grpc.aio.Channel) -> pb_grpc.IngestionServiceStub:
    return helpers.stub(channel)


@pytest.fixture(scope="module")
def write_key(ingestion_env: dict[str, str], request: pytest.FixtureRequest) -> str:
    """A write-only key whose source is the test module's name."""
    return create_key(ingestion_env, "--source", request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture
async def mark(nc: NATS, ingestion: ServiceProcess) -> int:
    """The EVENTS stream's last sequence before the test: what it stores comes after."""
    return await helpers.last_seq(nc)
