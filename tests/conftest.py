"""Session fixtures: a real nats-server and a real PostgreSQL (on ports they bind themselves,
PostgreSQL on a Unix socket), chained server -> client -> stream -> service process, torn
down at the end."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import nats
import pytest
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess, service_socket
from bullseye_platform.eventlog import Durability
from nats.aio.client import Client as NATS

from tests import credentials

if TYPE_CHECKING:
    from tests.profile.support import ProfileUnderTest


def pytest_configure(config: pytest.Config) -> None:
    """Temporary folders under .data/tmp rather than /tmp: every pytest session of the same user
    resets /tmp/pytest-of-<user> to mode 0700 as it starts, which locks out the unprivileged
    user PostgreSQL runs as when the tests run as root (bullseye_devtools.stack.postgres): an
    initdb failed with "Permission denied" when another checkout's tests started meanwhile."""
    root = Path(__file__).resolve().parents[1] / ".data" / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", str(root))


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def nats_server(stack_dir: Path) -> Iterator[NatsServer]:
    server = NatsServer(stack_dir / "nats", durability=Durability.STRICT).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres(stack_dir: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(stack_dir / "postgres").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def nc(nats_server: NatsServer) -> AsyncIterator[NATS]:
    client = await nats.connect(nats_server.url)
    yield client
    await client.close()


@pytest.fixture
async def pg(postgres: PostgresServer) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(postgres.dsn)
    yield conn
    await conn.close()


# The secrets a deployment gets from a Kubernetes Secret; fixed here so every process agrees.
TEST_SECRETS = {
    "BULLSEYE_MASTER_KEY": base64.b64encode(b"m" * 32).decode(),
    "BULLSEYE_HASH_KEY": base64.b64encode(b"h" * 32).decode(),
}


def service_env(nats_server: NatsServer, postgres: PostgresServer, **extra: str) -> dict[str, str]:
    """What every service process of the session gets: where NATS and PostgreSQL are, the
    secrets, and the session's keys (tests/credentials.py)."""
    return {
        "NATS_URL": nats_server.url,
        "DATABASE_URL": postgres.dsn,
        "INGESTION_PARTITIONS": "4",
        "IDENTITY_EVENTS_PARTITIONS": "4",
        "IDENTITY_PARTITIONS": "4",
        **TEST_SECRETS,
        **credentials.service_keys(),
        **extra,
    }


def create_key(env: dict[str, str], *args: str) -> str:
    """An API key made with the real command-line tool."""
    done = subprocess.run(
        [sys.executable, "-m", "bullseye_ingestion", "keys", "create", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture(scope="session")
def ingestion_socket(stack_dir: Path) -> Path:
    """Ingestion's Unix socket, known before it starts: identity, started first, records its
    corrections through ingestion."""
    return service_socket(stack_dir / "sockets", "ingestion")


@pytest.fixture(scope="session")
def identity(
    nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, ingestion_socket: Path
) -> Iterator[ServiceProcess]:
    """Identity, started before ingestion: ingestion asks it for the keys that seal personal data."""
    env = service_env(nats_server, postgres, IDENTITY_INGESTION_ADDRESS=f"unix:{ingestion_socket}")
    socket = service_socket(stack_dir / "sockets", "identity")
    service = ServiceProcess("identity", "bullseye_identity", env, stack_dir / "logs", socket=socket).start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def ingestion_env(nats_server: NatsServer, postgres: PostgresServer, identity: ServiceProcess) -> dict[str, str]:
    return service_env(nats_server, postgres, INGESTION_IDENTITY_ADDRESS=identity.socket_address)


@pytest.fixture(scope="session")
def ingestion(ingestion_env: dict[str, str], stack_dir: Path, ingestion_socket: Path) -> Iterator[ServiceProcess]:
    service = ServiceProcess(
        "ingestion", "bullseye_ingestion", ingestion_env, stack_dir / "logs", socket=ingestion_socket
    ).start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
async def profile_on_identity(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, identity: ServiceProcess,
    ingestion: ServiceProcess,
) -> AsyncIterator[ProfileUnderTest]:  # fmt: skip
    """Profile on identity's own RESOLVED stream, on the wall clock, asking identity for
    identifiers: the whole chain from ingestion to a profile."""
    # Imported here: tests.profile.support imports this module for service_env.
    from tests.profile.support import start_profile_on_identity, stop_profile

    started = await start_profile_on_identity(nc, nats_server, postgres, stack_dir / "logs", identity)
    await started.caught_up_with_the_chain(ingestion.address, create_key(ingestion.env, "--source", "catch-up"))
    yield started
    await stop_profile(started)
