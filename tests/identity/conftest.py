"""Fixtures of the graph tests: the session's identity and ingestion, one channel to each,
a write key, and a reader of RESOLVED marked at the start of each test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ipb_grpc
from bullseye_devtools.stack.services import ServiceProcess
from bullseye_platform.eventlog import StreamSpec, ensure_stream
from nats.aio.client import Client as NATS

from tests import channels
from tests.conftest import create_key
from tests.identity.graph_support import ResolvedLog


@pytest.fixture(scope="module")
async def graph(identity: ServiceProcess) -> AsyncIterator[pb_grpc.IdentityServiceStub]:
    async with channels.channel(identity.address) as channel:
        yield pb_grpc.IdentityServiceStub(channel)


@pytest.fixture(scope="module")
async def front(ingestion: ServiceProcess) -> AsyncIterator[ipb_grpc.IngestionServiceStub]:
    async with channels.channel(ingestion.address, caller=None) as channel:  # API keys per call
        yield ipb_grpc.IngestionServiceStub(channel)


@pytest.fixture(scope="module")
def key(ingestion_env: dict[str, str], request: pytest.FixtureRequest) -> str:
    """A verified source's key: the vault's rules between persons are those of verified claims
    (test_trust.py has what an unverified source may claim)."""
    return create_key(ingestion_env, "--source", request.module.__name__.rsplit(".", 1)[-1], "--trust", "verified")


@pytest.fixture
async def resolved(nc: NATS, identity: ServiceProcess, ingestion: ServiceProcess) -> ResolvedLog:
    return await ResolvedLog(nc).start()


@pytest.fixture
async def events_stream(nc: NATS) -> AsyncIterator[StreamSpec]:
    """An EVENTS stream of the test's own, for identity processes of its own (resolver_support)."""
    tag = uuid.uuid4().hex[:8]
    spec = StreamSpec(name=f"OWN_EVENTS_{tag.upper()}", subject_prefix=f"ownevents{tag}")
    await ensure_stream(nc.jetstream(), spec)
    yield spec
    await nc.jetstream().delete_stream(spec.name)
