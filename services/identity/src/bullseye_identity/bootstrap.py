"""The composition root: every connection and object of the identity process is built here."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
from bullseye.identity.v1 import identity_pb2, identity_pb2_grpc
from bullseye_platform.crypto import MasterKey
from bullseye_platform.eventlog import LogWriter, StreamSpec, connect, ensure_stream
from bullseye_platform.grpc import GrpcServer, ServerOptions
from bullseye_platform.grpc.server import Worker
from bullseye_platform.store import open_migrated_pool

from bullseye_identity.api.servicer import IdentityServicer
from bullseye_identity.config import IdentityConfig
from bullseye_identity.vault.keyring import KeyRing

SERVICE_NAME = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name


async def open_store(config: IdentityConfig) -> asyncpg.Pool:
    """The pool, with migrations applied (also what `bullseye-identity migrate` runs)."""
    return await open_migrated_pool(config.database_url, schema=config.schema, package="bullseye_identity")


def stream_spec(config: IdentityConfig) -> StreamSpec:
    return StreamSpec(
        name=config.stream,
        subject_prefix=config.subject_prefix,
        replicas=config.durability.replicas,
        duplicate_window=config.duplicate_window,
    )


def keyring(config: IdentityConfig, pool: asyncpg.Pool) -> KeyRing:
    return KeyRing(pool, MasterKey.from_base64(config.master_key), base64.b64decode(config.hash_key))


@dataclass
class Identity:
    server: GrpcServer
    workers: list[Worker] = field(default_factory=list)


@contextlib.asynccontextmanager
async def build(config: IdentityConfig) -> AsyncIterator[Identity]:
    """Everything wired; the projection and the outbox relay run as workers of the server."""
    pool = await open_store(config)
    nc = await connect(config.nats_url, name="bullseye-identity")
    js = nc.jetstream()
    await ensure_stream(js, stream_spec(config))
    writer = LogWriter(nc)
    keys = keyring(config, pool)
    server = GrpcServer(
        ServerOptions(port=config.grpc_port, grace=config.shutdown_grace, drain_delay=config.drain_delay)
    )
    server.add(
        identity_pb2_grpc.add_IdentityServiceServicer_to_server,
        IdentityServicer(pool=pool, keyring=keys, config=config),
        SERVICE_NAME,
    )
    try:
        yield Identity(server)
    finally:
        await writer.close()
        await nc.drain()
        await pool.close()
