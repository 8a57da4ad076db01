"""The composition root: every connection and object of the profile process is built here."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import asyncpg
import grpc
from bullseye.identity.v1 import identity_pb2
from bullseye.profile.v1 import profile_pb2, profile_pb2_grpc
from bullseye_platform import jobs, replay
from bullseye_platform.eventlog import LogWriter, connect, ensure_stream
from bullseye_platform.grpc import GrpcServer
from bullseye_platform.grpc.server import Worker
from bullseye_platform.instruments.log import consumer_lag, stream_storage
from bullseye_platform.instruments.outbox import outbox_backlog
from bullseye_platform.jobs import JobWorker
from bullseye_platform.outbox import OutboxRelay
from bullseye_platform.projection import ProjectionRunner, Source
from bullseye_platform.resolver import Resolver
from bullseye_platform.service import Running
from bullseye_platform.store import open_migrated_pool
from bullseye_platform.store.listen import Listener
from bullseye_platform.store.pool import Connection
from nats.js import JetStreamContext

from bullseye_profile.adapters.segment_gauges import segment_sizes
from bullseye_profile.api.servicer import ProfileServicer
from bullseye_profile.config import ProfileConfig
from bullseye_profile.domain.policy import ProfilePolicy
from bullseye_profile.projections import segment_facts
from bullseye_profile.projections.resolved import FoldedThrough, ReplayEnd, ResolvedProjection
from bullseye_profile.projections.rfm_scores import RfmSchedule
from bullseye_profile.reading.cache import CHANNEL_PREFIX, ReadCache
from bullseye_profile.reading.connections import ReadConnections
from bullseye_profile.segments import Segments, store
from bullseye_profile.segments.recompute import SWEEP, SWEEP_KEY

SERVICE_NAME = profile_pb2.DESCRIPTOR.services_by_name["ProfileService"].full_name
IDENTITY_SERVICE = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"]


def identity_channel(config: ProfileConfig) -> grpc.aio.Channel | None:
    """To identity, for GetProfile by identifier (Resolve, scope `identities:read`); None when unset."""
    if not config.identity_address:
        return None
    return config.channel_to(config.identity_address, IDENTITY_SERVICE, deadline=config.identity_timeout)


async def open_store(config: ProfileConfig) -> asyncpg.Pool:
    """The pool, with migrations applied (also what `bullseye-profile migrate` runs)."""
    # Custom plans: the projection's journal reads (reading/queries.py) ran as sequential scans
    # on plans cached while the journal was small; measured 2.5 of them per event.
    return await open_migrated_pool(
        config.database_url, schema=config.schema, package="bullseye_profile", custom_plans=True
    )


def policy(config: ProfileConfig) -> ProfilePolicy:
    return ProfilePolicy(
        new_within=config.new_within,
        stable_orders=config.stable_orders,
        dormant_after=config.dormant_after,
        churned_after=config.churned_after,
        default_purchase_gap=config.default_purchase_gap,
        affinity_half_life=config.affinity_half_life,
        price_bands=config.price_bands,
        cart_abandon_after=config.cart_abandon_after,
    )


def resolved_source(config: ProfileConfig, partitions: Sequence[int]) -> Source:
    """RESOLVED, of which this process folds `partitions` (of all `resolved_partitions`)."""
    every = range(config.resolved_partitions)
    return Source(config.resolved_stream, config.resolved_subject_prefix, partitions, every=every)


def projection_runner(
    config: ProfileConfig, js: JetStreamContext, pool: asyncpg.Pool, projection: ResolvedProjection,
    *, plan: replay.Replay | None = None, partitions: Sequence[int] | None = None,
) -> ProjectionRunner:  # fmt: skip
    """The RESOLVED projection over `partitions` (default: all; `rebuild` resets them all).

    A replay is all catching up: bigger batches (PROFILE_REPLAY_BATCH_SIZE), and a reader per
    partition to overlap the transactions' round trips (measured: 17.3k records/s against 15.2k with one reader per
    process); once the process's partitions have replayed, it reads live (PROFILE_READERS, PROFILE_BATCH_SIZE).
    """
    owned = range(config.resolved_partitions) if partitions is None else partitions
    return ProjectionRunner(
        js=js, pool=pool, projection=projection, sources=[resolved_source(config, owned)], replay=plan,
        readers=config.readers, batch_size=config.batch_size, linger=config.linger,
        replay_readers=len(owned), replay_batch_size=config.replay_batch_size, consumer=config.consumer,
    )  # fmt: skip


def replay_end(rfm: RfmSchedule, segments: Segments) -> ReplayEnd:
    """What the end of a rebuild's replay catches up on, in its transaction: RFM over the whole
    journal first (segments compare against it), then one sweep that reconciles every
    membership. Holds the membership lock shared like a refresh, so a recompute (which takes it
    exclusively first) waits for the end's commit."""

    async def end(conn: Connection) -> None:
        await store.lock_shared(conn)
        await rfm.run_quietly(conn)
        await jobs.set_due(conn, queue=SWEEP, key=SWEEP_KEY, due_at=segments.clock())

    return end


def folding(
    config: ProfileConfig, js: JetStreamContext, pool: asyncpg.Pool, runner: ProjectionRunner, durable: list[Worker]
) -> list[Worker]:
    """The workers of a folding process (PROFILE_PROJECTION): the projection, the durable
    jobs and their metrics; none in a serving-only one, whose only worker is its cache's LISTEN."""
    if not config.projection:
        return []
    lag = consumer_lag(js, config.resolved_stream, lambda: runner.durables(config.resolved_stream))
    probes = [lag, stream_storage(js, config.stream), outbox_backlog(pool), segment_sizes(pool)]
    return [runner.run, *durable, *config.sampled(*probes)]


@contextlib.asynccontextmanager
async def build(config: ProfileConfig) -> AsyncIterator[Running]:
    """Everything wired; the projection, the jobs (RFM, segment recomputes and sweeps) and the
    outbox relay run as workers. On an empty schema, segments are first restored from PROFILE."""
    clock = config.clock()
    pool = await open_store(config)
    nc = await connect(config.nats_url, name="bullseye-profile")
    js = nc.jetstream()
    await ensure_stream(js, config.owned_stream())
    await segment_facts.restore(pool, js, stream=config.stream, subject_prefix=config.subject_prefix)
    writer = LogWriter(nc)
    identity = Resolver(identity_channel(config), caller="profile", variable="PROFILE_IDENTITY_ADDRESS")
    rules = policy(config)
    folded = FoldedThrough(config.resolved_stream, config.resolved_partitions)
    segments = Segments.build(
        pool=pool, clock=clock.now, subject_prefix=config.subject_prefix, partitions=config.partitions, folded=folded,
        policy=rules,
    )  # fmt: skip
    cache = ReadCache(config.read_cache_size)  # GetProfile's bases, dropped on NOTIFY (reading/cache.py)
    rfm = RfmSchedule(
        pool=pool, now=clock.now, refresh=segments.keeper.refresh, interval=config.rfm_interval, cache=cache
    )
    projection = ResolvedProjection(
        now=clock.now, refresh=segments.keeper.refresh, partitions=config.resolved_partitions, cache=cache,
        replay_end=replay_end(rfm, segments),
    )  # fmt: skip
    owned = config.owned_partitions()
    plan = None  # a serving-only process folds nothing, so it replays nothing either
    if config.projection:
        plan = await replay.plan(pool, js, projection=projection, sources=[resolved_source(config, owned)])
    runner = projection_runner(config, js, pool, projection, plan=plan, partitions=owned)
    worker = JobWorker(pool=pool, queues=[rfm.queue, *segments.recompute.queues], clock=clock.now, poll=config.job_poll,
                       linger=config.linger)  # fmt: skip
    server = GrpcServer(config.server_options(), authenticators=[config.token_verifier()])
    readers = ReadConnections(config.database_url, schema=config.schema)  # GetProfile's hot read
    servicer = ProfileServicer(
        pool=pool, config=config, clock=clock, policy=rules, identity=identity, rfm=rfm, segments=segments,
        readers=readers, cache=cache,
    )  # fmt: skip
    server.add(profile_pb2_grpc.add_ProfileServiceServicer_to_server, servicer, SERVICE_NAME)
    relay = OutboxRelay(pool=pool, writer=writer, linger=config.linger)
    everywhere = []  # every serving process keeps its own cache
    if cache.capacity > 0:
        channel = CHANNEL_PREFIX + config.schema
        everywhere.append(Listener(config.database_url, channel, on_notify=cache.on_notify, on_live=cache.on_live).run)
    try:
        yield Running(server, folding(config, js, pool, runner, [worker.run, relay.run]), everywhere)
    finally:
        await readers.close()
        await identity.close()
        await writer.close()
        await nc.drain()
        await pool.close()
