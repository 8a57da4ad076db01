"""The composition root: every connection and object of the ingestion process is built here."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import grpc
from bullseye.identity.v1 import identity_pb2
from bullseye.ingestion.v1 import ingestion_pb2, ingestion_pb2_grpc
from bullseye_platform.eventlog import LogWriter, connect, ensure_stream
from bullseye_platform.grpc import GrpcServer
from bullseye_platform.instruments.log import stream_storage
from bullseye_platform.sealing import DataKeyCache
from bullseye_platform.service import Running

from bullseye_ingestion.adapters.database import open_store
from bullseye_ingestion.adapters.identity_keys import IdentityKeyClient
from bullseye_ingestion.adapters.key_store import KeyStore
from bullseye_ingestion.adapters.log_target import LogTarget
from bullseye_ingestion.adapters.sealer import Sealer
from bullseye_ingestion.api.auth import ApiKeys, Throttle
from bullseye_ingestion.api.catalog_intake import CatalogIntake
from bullseye_ingestion.api.correction_intake import CorrectionIntake
from bullseye_ingestion.api.intake import Intake
from bullseye_ingestion.api.servicer import IngestionServicer
from bullseye_ingestion.config import IngestionConfig
from bullseye_ingestion.domain.policy import EventPolicy

SERVICE_NAME = ingestion_pb2.DESCRIPTOR.services_by_name["IngestionService"].full_name
IDENTITY_SERVICE = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"]


def event_policy(config: IngestionConfig) -> EventPolicy:
    return EventPolicy(
        max_event_bytes=config.max_event_bytes,
        max_batch_events=config.max_batch_events,
        max_request_bytes=config.max_request_bytes,
        future_tolerance=config.future_tolerance,
        live_window=config.live_window,
    )


def identity_channel(config: IngestionConfig) -> grpc.aio.Channel:
    """To identity, which issues the data keys. The factory reconnects within a second of
    identity coming back, so personal data is refused no longer than identity is away."""
    return config.channel_to(config.identity_address, IDENTITY_SERVICE, deadline=config.identity_timeout)


def sealer(config: IngestionConfig, channel: grpc.aio.Channel) -> Sealer:
    return Sealer(
        IdentityKeyClient(channel), DataKeyCache(ttl=config.data_key_cache_ttl, max_size=config.data_key_cache_size)
    )


@contextlib.asynccontextmanager
async def build(config: IngestionConfig) -> AsyncIterator[Running]:
    """Everything wired and started; closed in reverse order on exit."""
    pool = await open_store(config)
    nc = await connect(config.nats_url, name="bullseye-ingestion")
    js = nc.jetstream()
    await ensure_stream(js, config.owned_stream(max_age=config.stream_max_age, max_msg_size=config.max_event_bytes * 2))
    await ensure_stream(js, config.catalog_spec())
    writer = LogWriter(nc, max_batch=config.publish_batch, max_in_flight=config.publish_in_flight)
    # A writer per stream: an atomic batch cannot span two streams.
    catalog_writer = LogWriter(nc, max_batch=config.publish_batch, max_in_flight=config.publish_in_flight)
    policy = event_policy(config)
    identity = identity_channel(config)
    intake = Intake(
        writer=writer,
        sealer=sealer(config, identity),
        policy=policy,
        subject_prefix=config.subject_prefix,
        partitions=config.partitions,
    )
    api_keys = ApiKeys(KeyStore(pool), cache_ttl=config.key_cache_ttl)
    server = GrpcServer(
        # gRPC's own limit sits above ours so that our check answers with the exact limit.
        config.server_options(max_message_bytes=config.max_request_bytes * 4),
        authenticators=[config.token_verifier(), api_keys],  # a JWT is a token; anything else, an API key
    )
    servicer = IngestionServicer(
        intake=intake,
        catalog=CatalogIntake(
            target=LogTarget(catalog_writer, config.catalog_subject_prefix, config.catalog_partitions), policy=policy
        ),
        corrections=CorrectionIntake(target=LogTarget(writer, config.subject_prefix, config.partitions), policy=policy),
        throttle=Throttle(),
        policy=policy,
    )  # fmt: skip
    server.add(ingestion_pb2_grpc.add_IngestionServiceServicer_to_server, servicer, SERVICE_NAME)
    try:
        probes = (stream_storage(js, config.stream), stream_storage(js, config.catalog_stream))
        yield Running(server, config.sampled(*probes))
    finally:
        await catalog_writer.close()
        await writer.close()
        await identity.close(grace=None)
        await nc.drain()
        await pool.close()
