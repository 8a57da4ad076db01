"""The composition root: every connection and object of the identity process is built here."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
import grpc
from bullseye.identity.v1 import identity_pb2, identity_pb2_grpc
from bullseye.ingestion.v1 import ingestion_pb2
from bullseye_platform.crypto import MasterKey
from bullseye_platform.eventlog import ALL_PARTITIONS, LogWriter, connect, ensure_stream
from bullseye_platform.grpc import GrpcServer
from bullseye_platform.grpc.server import Worker
from bullseye_platform.instruments.log import consumer_lag, stream_storage
from bullseye_platform.instruments.outbox import outbox_backlog
from bullseye_platform.outbox import OutboxRelay
from bullseye_platform.pausing import pause
from bullseye_platform.projection import ProjectionRunner
from bullseye_platform.service import Running
from bullseye_platform.store import open_migrated_pool
from bullseye_platform.store.leadership import Leadership
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bullseye_identity.adapters.correction_log import CorrectionLog
from bullseye_identity.adapters.outcomes import Outcomes
from bullseye_identity.api.servicer import IdentityServicer
from bullseye_identity.config import IdentityConfig
from bullseye_identity.corrections.recorder import Recorder
from bullseye_identity.graph.facts import Facts
from bullseye_identity.projections.resolution import Resolution
from bullseye_identity.vault.keyring import KeyRing

log = logging.getLogger(__name__)
SERVICE_NAME = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name
INGESTION_SERVICE = ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"]


async def open_store(config: IdentityConfig) -> asyncpg.Pool:
    """The pool, with migrations applied (also what `bullseye-identity migrate` runs)."""
    return await open_migrated_pool(config.database_url, schema=config.schema, package="bullseye_identity")


def keyring(config: IdentityConfig, pool: asyncpg.Pool) -> KeyRing:
    return KeyRing(pool, MasterKey.from_base64(config.master_key), base64.b64decode(config.hash_key))


def facts(config: IdentityConfig) -> Facts:
    return Facts(prefix=config.subject_prefix, partitions=config.partitions)


def ingestion_channel(config: IdentityConfig) -> grpc.aio.Channel:
    """To ingestion, the writer of EVENTS, where Merge and Split record their commands, as
    identity (`events:correct`). Ingestion may start after identity (it asks identity for data
    keys): the channel connects when a correction first needs it, and reconnects within a
    second of ingestion coming back."""
    return config.channel_to(config.ingestion_address, INGESTION_SERVICE, deadline=config.ingestion_timeout)


def resolution_runner(
    config: IdentityConfig, *, js: JetStreamContext, pool: asyncpg.Pool, keys: KeyRing
) -> ProjectionRunner:
    """One reader of every EVENTS partition, in stream order (see projections/resolution.py):
    the candidate that leads runs it; a second deployment on the same stream needs its own
    IDENTITY_CONSUMER (and schema)."""
    projection = Resolution(name=config.consumer, keyring=keys, policy=config.policy(), facts=facts(config))
    return ProjectionRunner(
        js=js,
        pool=pool,
        projection=projection,
        stream=config.events_stream,
        subject_prefix=config.events_subject_prefix,
        partitions=[ALL_PARTITIONS],
        batch_size=config.batch_size,
        linger=config.linger,
    )


async def wait_for_stream(js: JetStreamContext, name: str, stop: asyncio.Event, *, every: float = 1.0) -> bool:
    """Identity may start before ingestion has declared EVENTS (it does not own that stream);
    returns False when stopped first."""
    while not stop.is_set():
        try:
            await js.stream_info(name)
            return True
        except NotFoundError:
            log.info("waiting for stream %s to be declared", name)
        await pause(stop, every)
    return False


def resolution_worker(config: IdentityConfig, js: JetStreamContext, runner: ProjectionRunner) -> Worker:
    async def run(stop: asyncio.Event) -> None:
        if await wait_for_stream(js, config.events_stream, stop):
            await runner.run(stop)

    return run


@contextlib.asynccontextmanager
async def build(config: IdentityConfig) -> AsyncIterator[Running]:
    """Everything wired; the projection and the outbox relay run as workers of the server."""
    pool = await open_store(config)
    nc = await connect(config.nats_url, name="bullseye-identity")
    js = nc.jetstream()
    await ensure_stream(js, config.owned_stream())
    writer = LogWriter(nc)
    keys = keyring(config, pool)
    runner = resolution_runner(config, js=js, pool=pool, keys=keys)
    relay = OutboxRelay(pool=pool, writer=writer, linger=config.linger)
    ingestion = ingestion_channel(config)
    outcomes = Outcomes(pool, dsn=config.database_url, schema=config.schema, poll=config.correction_poll)
    recorder = Recorder(
        log=CorrectionLog(ingestion), outcomes=outcomes, wait=config.correction_wait,
        append_timeout=config.ingestion_timeout,
    )  # fmt: skip
    server = GrpcServer(config.server_options(), authenticators=[config.token_verifier()])
    server.add(
        identity_pb2_grpc.add_IdentityServiceServicer_to_server,
        IdentityServicer(pool=pool, keyring=keys, config=config, policy=config.policy(), recorder=recorder),
        SERVICE_NAME,
    )
    probes = [stream_storage(js, config.stream), outbox_backlog(pool)]
    workers: list[Worker] = []
    if config.resolver:
        # One total order of EVENTS has one reader: the candidates elect it, a standby takes
        # over within seconds of its loss; replicas with IDENTITY_RESOLVER=false serve RPCs only.
        resolving = [resolution_worker(config, js, runner), relay.run]
        workers.append(Leadership(config.database_url, f"{config.schema}:{config.consumer}", resolving).run)
        probes.append(consumer_lag(js, config.events_stream, lambda: runner.durables(config.events_stream)))
    try:
        workers += config.sampled(*probes)
        yield Running(server, workers, everywhere=[outcomes.run])
    finally:
        await ingestion.close(grace=None)
        await writer.close()
        await nc.drain()
        await pool.close()
