"""Shared by the key and vault tests: an identity (and ingestion) of their own, the
IssueDataKeys call, and a KeyRing on the identity schema for what has no RPC yet (shred).

An isolated process gets its own schema and its own streams, so it never competes with
the session's identity for EVENTS or writes into its RESOLVED stream.
"""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import asyncpg
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess
from bullseye_identity.vault.keyring import KeyRing
from bullseye_platform.crypto import DataKey, MasterKey
from bullseye_platform.eventlog import StreamSpec, ensure_stream
from nats.aio.client import Client as NATS

from tests import channels
from tests.conftest import TEST_SECRETS, service_env


def isolated_env(nats_server: NatsServer, postgres: PostgresServer, **extra: str) -> dict[str, str]:
    """Env of an identity + ingestion pair with a schema and streams of their own."""
    tag = uuid.uuid4().hex[:8]
    return service_env(
        nats_server,
        postgres,
        IDENTITY_SCHEMA=f"identity_{tag}",
        INGESTION_SCHEMA=f"ingestion_{tag}",
        INGESTION_STREAM=f"EVENTS_{tag}",
        INGESTION_SUBJECT_PREFIX=f"events_{tag}",
        IDENTITY_EVENTS_STREAM=f"EVENTS_{tag}",
        IDENTITY_EVENTS_SUBJECT_PREFIX=f"events_{tag}",
        IDENTITY_STREAM=f"RESOLVED_{tag}",
        IDENTITY_SUBJECT_PREFIX=f"resolved_{tag}",
        **extra,
    )


async def start_identity(nc: NATS, env: dict[str, str], log_dir: Path) -> ServiceProcess:
    """An identity process on `env`, its EVENTS stream created first (ingestion owns it)."""
    spec = StreamSpec(name=env["INGESTION_STREAM"], subject_prefix=env["INGESTION_SUBJECT_PREFIX"])
    await ensure_stream(nc.jetstream(), spec)
    return ServiceProcess("identity", "bullseye_identity", env, log_dir).start()


async def issue(address: str, subjects: list[str], *, caller: str | None = "ingestion") -> list[pb.DataKey]:
    """IssueDataKeys as `caller` (ingestion, the principal granted `datakeys:issue`, by default)."""
    async with channels.channel(address, caller=caller) as channel:
        reply = await pb_grpc.IdentityServiceStub(channel).IssueDataKeys(
            pb.IssueDataKeysRequest(subjects=subjects), timeout=10
        )
    return list(reply.keys)


def data_key(issued: pb.DataKey) -> DataKey:
    return DataKey(issued.key_id, issued.secret)


async def keyring_pool(postgres: PostgresServer, schema: str = "identity") -> asyncpg.Pool:
    pool = await asyncpg.create_pool(postgres.dsn, min_size=1, max_size=2, server_settings={"search_path": schema})
    assert pool is not None
    return pool


def keyring(pool: asyncpg.Pool) -> KeyRing:
    """A KeyRing like identity's own (same secrets), without a cache: it sees every shred."""
    master = MasterKey.from_base64(TEST_SECRETS["BULLSEYE_MASTER_KEY"])
    return KeyRing(pool, master, base64.b64decode(TEST_SECRETS["BULLSEYE_HASH_KEY"]), cache_ttl=0)
