"""The composition root: every connection and object of the recommendation process is built here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from pathlib import Path

import asyncpg
import grpc
from bullseye.identity.v1 import identity_pb2
from bullseye.recommendation.v1 import recommendation_pb2, recommendation_pb2_grpc
from bullseye_platform.eventlog import LogWriter, connect, ensure_stream, subject_for
from bullseye_platform.grpc import GrpcServer
from bullseye_platform.grpc.server import Worker
from bullseye_platform.instruments.log import consumer_lag, stream_storage
from bullseye_platform.instruments.outbox import outbox_backlog
from bullseye_platform.outbox import OutboxRelay
from bullseye_platform.pausing import pause
from bullseye_platform.projection import ProjectionRunner, Source
from bullseye_platform.resolver import Resolver
from bullseye_platform.service import Running
from bullseye_platform.store import open_migrated_pool
from bullseye_platform.store.listen import Listener
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bullseye_recommendation.api.convert import Rendered
from bullseye_recommendation.api.servicer import RecommendationServicer
from bullseye_recommendation.config import RecommendationConfig
from bullseye_recommendation.projections import changes
from bullseye_recommendation.projections.changes import CHANNEL_PREFIX
from bullseye_recommendation.projections.interactions import InteractionRows
from bullseye_recommendation.projections.projection import RecommendationProjection
from bullseye_recommendation.registry.registry import KIND, Registry
from bullseye_recommendation.serving.answers import AnswerCache
from bullseye_recommendation.serving.impressions import ImpressionWriter, count_lost
from bullseye_recommendation.serving.instruments import RecommendationInstruments
from bullseye_recommendation.serving.models import ModelHolder
from bullseye_recommendation.serving.recommender import Recommender
from bullseye_recommendation.serving.snapshot import SnapshotKeeper
from bullseye_recommendation.serving.spool import Spool
from bullseye_recommendation.serving.swap import ModelSwapper

SERVICE_NAME = recommendation_pb2.DESCRIPTOR.services_by_name["RecommendationService"].full_name
IDENTITY_SERVICE = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"]
STREAM_WAIT = 2.0  # seconds between looks for a stream that is not there yet
log = logging.getLogger(__name__)


def identity_channel(config: RecommendationConfig) -> grpc.aio.Channel | None:
    """To identity, for Recommend by identifier (Resolve, scope `identities:read`); None when unset."""
    if not config.identity_address:
        return None
    return config.channel_to(config.identity_address, IDENTITY_SERVICE, deadline=config.identity_timeout)


async def open_store(config: RecommendationConfig) -> asyncpg.Pool:
    """The pool, with migrations applied (also what `bullseye-recommendation migrate` runs)."""
    return await open_migrated_pool(config.database_url, schema=config.schema, package="bullseye_recommendation")


def sources(config: RecommendationConfig) -> list[Source]:
    """RESOLVED and CATALOG, and recommendation's own RECO (impressions), every partition."""
    return [
        Source(config.resolved_stream, config.resolved_subject_prefix, range(config.resolved_partitions)),
        Source(config.catalog_stream, config.catalog_subject_prefix, range(config.catalog_partitions)),
        Source(config.stream, config.subject_prefix, range(config.partitions)),
    ]


def projection_runner(
    config: RecommendationConfig, js: JetStreamContext, pool: asyncpg.Pool,
    *, hold: Callable[[Collection[str]], None] | None = None,
) -> ProjectionRunner:  # fmt: skip
    """The projection over its three streams; `hold` tells this process's ranking cache of the
    persons a batch changes before its commit (serving/answers.py)."""
    held = {} if hold is None else {"hold": hold}
    rows = InteractionRows(weights=config.feedback_weights, half_life=config.popularity_half_life, **held)
    projection = RecommendationProjection.of(
        resolved=config.resolved_stream, catalog_stream=config.catalog_stream, reco=config.stream, rows=rows
    )
    return ProjectionRunner(js=js, pool=pool, projection=projection, sources=sources(config),
                            batch_size=config.batch_size, linger=config.linger)  # fmt: skip


def once_streams_exist(js: JetStreamContext, streams: Sequence[str], worker: Worker) -> Worker:
    """`worker`, started once every stream it reads exists: RESOLVED and CATALOG belong to
    identity and ingestion, which may start after this service (a deployment's order)."""

    async def run(stop: asyncio.Event) -> None:
        for stream in streams:
            while not stop.is_set():
                try:
                    await js.stream_info(stream)
                    break
                except NotFoundError:
                    log.info("waiting for the stream %s (its owner creates it)", stream)
                await pause(stop, STREAM_WAIT)
        if not stop.is_set():
            await worker(stop)

    return run


def folding(
    config: RecommendationConfig, js: JetStreamContext, pool: asyncpg.Pool, relay: OutboxRelay,
    answers: AnswerCache[Rendered],
) -> list[Worker]:  # fmt: skip
    """The projection owner's workers (RECOMMENDATION_PROJECTION): the fold, the outbox relay
    (model.published facts) and their metrics; none in a serving-only process."""
    if not config.projection:
        return []
    runner = projection_runner(config, js, pool, hold=answers.hold)
    read = [s.stream for s in sources(config)]
    probes = [consumer_lag(js, s, lambda s=s: runner.durables(s)) for s in read]  # type: ignore[misc]
    probes += [stream_storage(js, config.stream), outbox_backlog(pool)]
    return [once_streams_exist(js, read, runner.run), relay.run, *config.sampled(*probes)]


async def models(config: RecommendationConfig, pool: asyncpg.Pool, instruments: RecommendationInstruments,
                 ) -> tuple[Registry, ModelHolder, ModelSwapper]:  # fmt: skip
    """The registry, and this process's model: the current version loaded before serving."""
    storage = Path(config.model_dir)
    registry = Registry(pool=pool, storage=storage, subject_prefix=config.subject_prefix,
                        tolerance=config.gate_tolerance, now=config.clock().now)  # fmt: skip
    holder = ModelHolder()
    swapper = ModelSwapper(holder=holder, registry=registry, storage=storage, instruments=instruments,
                           poll=config.model_poll)  # fmt: skip
    await swapper.follow()
    return registry, holder, swapper


async def impression_writer(
    config: RecommendationConfig, writer: LogWriter, instruments: RecommendationInstruments
) -> ImpressionWriter:
    """Impressions off the call path, once what dead processes' spools lost is counted."""
    await count_lost(config.spool(), writer, subject_prefix=config.subject_prefix, instruments=instruments,
                     now=config.clock().now())  # fmt: skip
    return ImpressionWriter(
        writer=writer, spool=Spool(config.spool()), subject_prefix=config.subject_prefix,
        partitions=config.partitions, batch=config.impression_batch, flush=config.impression_flush,
        message_bytes=config.owned_stream().max_msg_size,
        instruments=instruments,
    )  # fmt: skip


def listener(config: RecommendationConfig, snapshots: SnapshotKeeper, answers: AnswerCache[Rendered]) -> Listener:
    """The projection's notifications, for this process's snapshot and ranking cache."""

    def live(listening: bool) -> None:
        snapshots.on_live(listening)
        answers.on_live(listening)

    return Listener(
        config.database_url, CHANNEL_PREFIX + config.schema, on_live=live,
        on_notify=lambda payload: changes.route(payload, snapshot=snapshots.on_notify, persons=answers.on_notify),
    )  # fmt: skip


@contextlib.asynccontextmanager
async def build(config: RecommendationConfig) -> AsyncIterator[Running]:
    """Everything wired. Before serving, the process holds the current model (if one is
    published) and the catalog, and has counted what dead processes' spools lost."""
    clock, instruments = config.clock(), RecommendationInstruments()
    pool = await open_store(config)
    nc = await connect(config.nats_url, name="bullseye-recommendation")
    js = nc.jetstream()
    await ensure_stream(js, config.owned_stream())
    writer = LogWriter(nc)
    registry, holder, swapper = await models(config, pool, instruments)
    snapshots = SnapshotKeeper(pool=pool, now=clock.now, half_life=config.popularity_half_life,
                               interval=config.snapshot_interval)  # fmt: skip
    await snapshots.load()
    impressions = await impression_writer(config, writer, instruments)
    identity = Resolver(identity_channel(config), caller="recommendation", variable="RECOMMENDATION_IDENTITY_ADDRESS")
    recommender = Recommender(snapshots=snapshots, models=holder, weights=config.feedback_weights,
                              consent_required=config.consent_required)  # fmt: skip
    answers: AnswerCache[Rendered] = AnswerCache(config.answer_cache_size)  # until person, model, catalog change
    server = GrpcServer(config.server_options(), authenticators=[config.token_verifier()])
    servicer = RecommendationServicer(
        pool=pool, config=config, clock=clock, identity=identity, recommender=recommender, registry=registry,
        impressions=impressions, instruments=instruments, answers=answers,
    )  # fmt: skip
    server.add(recommendation_pb2_grpc.add_RecommendationServiceServicer_to_server, servicer, SERVICE_NAME)
    published = subject_for(config.subject_prefix, 0, KIND)

    async def follow_models(stop: asyncio.Event) -> None:
        await swapper.run_with(stop, js, stream=config.stream, subject=published)

    everywhere = [snapshots.run, listener(config, snapshots, answers).run, follow_models, impressions.run]
    relay = OutboxRelay(pool=pool, writer=writer, linger=config.linger)
    try:
        yield Running(server, folding(config, js, pool, relay, answers), everywhere)
    finally:
        await identity.close()
        await writer.close()
        await nc.drain()
        await pool.close()
