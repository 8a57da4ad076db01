"""Fixtures of the platform tests: a fresh stream and a fresh schema per test.

Built on the session's real nats-server and PostgreSQL (tests/conftest.py); every test
gets its own stream name, subject prefix and schema so tests never see each other's data.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from bullseye_devtools.stack import PostgresServer
from bullseye_platform.eventlog import StreamSpec, ensure_stream
from bullseye_platform.store import create_pool, migrate
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

FIXTURE_PACKAGE = "tests.platform.fixture_migrations"


@pytest.fixture(scope="session")
def js(nc: NATS) -> JetStreamContext:
    return nc.jetstream()


@pytest.fixture
def token() -> str:
    """A short unique token for names that must not collide between tests."""
    return uuid.uuid4().hex[:10]


async def declared(js: JetStreamContext, name: str, subject_prefix: str) -> AsyncIterator[StreamSpec]:
    """A stream for one test, deleted after it."""
    spec = StreamSpec(name=name, subject_prefix=subject_prefix)
    await ensure_stream(js, spec)
    yield spec
    await js.delete_stream(spec.name)


@pytest.fixture
async def stream(js: JetStreamContext, token: str) -> AsyncIterator[StreamSpec]:
    async for spec in declared(js, f"T_{token.upper()}", f"t{token}"):
        yield spec


@pytest.fixture
async def other_stream(js: JetStreamContext, token: str) -> AsyncIterator[StreamSpec]:
    """A second stream, for projections that read two."""
    async for spec in declared(js, f"U_{token.upper()}", f"u{token}"):
        yield spec


@pytest.fixture
def schema(token: str) -> str:
    return f"t_{token}"


@pytest.fixture
async def pool(postgres: PostgresServer, schema: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh schema with the platform's and the fixture package's migrations."""
    pool = await create_pool(postgres.dsn, schema=schema, min_size=1, max_size=6)
    async with pool.acquire() as conn:
        await migrate(conn, schema=schema, package=FIXTURE_PACKAGE)
    yield pool
    await pool.close()
