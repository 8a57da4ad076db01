"""The composition root: every connection and object of the profile process is built here."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import asyncpg
import grpc
from bullseye.identity.v1 import identity_pb2
from bullseye.profile.v1 import profile_pb2, profile_pb2_grpc
from bullseye_platform.eventlog import LogWriter, connect, ensure_stream
from bullseye_platform.grpc import GrpcServer, client
from bullseye_platform.grpc.server import Worker
from bullseye_platform.instruments.log import consumer_lag, stream_storage
from bullseye_platform.instruments.outbox import outbox_backlog
from bullseye_platform.outbox import OutboxRelay
from bullseye_platform.projection import ProjectionRunner
from bullseye_platform.service import Running
from bullseye_platform.store import open_migrated_pool
from bullseye_platform.store.listen import Listener
from nats.js import JetStreamContext

from bullseye_profile.adapters.identity_client import IdentityClient
from bullseye_profile.adapters.segment_gauges import segment_sizes
from bullseye_profile.api.servicer import ProfileServicer
from bullseye_profile.config import ProfileConfig
from bullseye_profile.domain.clock import Clock
from bullseye_profile.domain.policy import ProfilePolicy
from bullseye_profile.projections import replay
from bullseye_profile.projections.resolved import ResolvedProjection
from bullseye_profile.read_cache import CHANNEL_PREFIX, ReadCache
from bullseye_profile.readers import Readers
from bullseye_profile.rfm_recompute import RfmScheduler
from bullseye_profile.segments import Segments

SERVICE_NAME = profile_pb2.DESCRIPTOR.services_by_name["ProfileService"].full_name
IDENTITY_SERVICE = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"]


def identity_channel(config: ProfileConfig) -> grpc.aio.Channel | None:
    """To identity, for GetProfile by identifier (Resolve, scope `identities:read`); None when unset."""
    if not config.identity_address:
        return None
    return client.channel(
        config.identity_address, credentials=config.credentials(), service=IDENTITY_SERVICE, tls=config.client_tls(),
        deadline=config.identity_timeout,
    )  # fmt: skip


async def open_store(config: ProfileConfig) -> asyncpg.Pool:
    """The pool, with migrations applied (also what `bullseye-profile migrate` runs)."""
    # Custom plans: the projection's journal reads (queries.py) ran as sequential scans on
    # plans cached while the journal was small; measured 2.5 of them per event.
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


# Records per transaction while a rebuild replays: a batch costs a dozen round trips whatever
# its size, so bigger ones cut the profile process's CPU per record (measured: ~90 us at 500,
# ~55 us at 2,000). Below the consumers' max_ack_pending (2,048).
REPLAY_BATCH = 2000


def projection_runner(
    config: ProfileConfig, js: JetStreamContext, pool: asyncpg.Pool, projection: ResolvedProjection,
    *, batch_size: int | None = None, partitions: Sequence[int] | None = None, readers: int | None = None,
) -> ProjectionRunner:  # fmt: skip
    """The RESOLVED projection over `partitions` (default: all; `rebuild` resets them all)."""
    return ProjectionRunner(
        js=js, pool=pool, projection=projection, stream=config.resolved_stream,
        subject_prefix=config.resolved_subject_prefix,
        partitions=range(config.resolved_partitions) if partitions is None else partitions,
        readers=readers or config.readers, batch_size=batch_size or config.batch_size,
    )  # fmt: skip


def folding(
    config: ProfileConfig, js: JetStreamContext, pool: asyncpg.Pool, runner: ProjectionRunner, jobs: list[Worker]
) -> list[Worker]:
    """The workers of a folding process (PROFILE_PROJECTION): the projection, the durable
    jobs and their metrics; none in a serving-only one, whose only worker is its cache's LISTEN."""
    if not config.projection:
        return []
    probes = [consumer_lag(js, config.resolved_stream, lambda: runner.durables), stream_storage(js, config.stream)]
    return [runner.run, *jobs, *config.sampled(*probes, outbox_backlog(pool), segment_sizes(pool))]


@contextlib.asynccontextmanager
async def build(config: ProfileConfig) -> AsyncIterator[Running]:
    """Everything wired; the projection, the RFM schedule, segment recomputes and the outbox relay run as workers."""
    clock = Clock.parse(config.fixed_now)
    pool = await open_store(config)
    nc = await connect(config.nats_url, name="bullseye-profile")
    js = nc.jetstream()
    await ensure_stream(js, config.owned_stream())
    writer = LogWriter(nc)
    identity = IdentityClient(identity_channel(config))
    rules = policy(config)
    segments = Segments.build(
        pool=pool, clock=clock.now, subject_prefix=config.subject_prefix, partitions=config.partitions, policy=rules
    )
    plan = replay.Replay()  # a serving-only process folds nothing, so it replays nothing either
    if config.projection:
        plan = await replay.plan(
            pool, js, projection="profile", stream=config.resolved_stream,
            subject_prefix=config.resolved_subject_prefix, partitions=config.owned_partitions(),
        )  # fmt: skip
    cache = ReadCache(config.read_cache_size)  # GetProfile's bases, dropped on NOTIFY (read_cache.py)
    projection = ResolvedProjection(now=clock.now, refresh=segments.keeper.refresh, replay=plan, cache=cache)
    # A replay is all catching up: a reader per partition overlaps the transactions' round
    # trips (measured: 17.3k records/s against 15.2k with one reader per process); the
    # process keeps these settings until it restarts.
    owned = config.owned_partitions()
    batch = max(config.batch_size, REPLAY_BATCH) if plan.active else config.batch_size
    reader_count = len(owned) if plan.active else config.readers
    runner = projection_runner(config, js, pool, projection, batch_size=batch, partitions=owned, readers=reader_count)
    rfm = RfmScheduler(
        pool=pool, now=clock.now, refresh=segments.keeper.refresh, interval=config.rfm_interval, poll=config.rfm_poll,
        cache=cache,
    )  # fmt: skip
    server = GrpcServer(config.server_options(), authenticators=[config.token_verifier()])
    readers = Readers(config.database_url, schema=config.schema)  # GetProfile's hot read (readers.py)
    servicer = ProfileServicer(
        pool=pool, config=config, clock=clock, policy=rules, identity=identity, rfm=rfm, segments=segments,
        readers=readers, cache=cache,
    )  # fmt: skip
    server.add(profile_pb2_grpc.add_ProfileServiceServicer_to_server, servicer, SERVICE_NAME)
    relay = OutboxRelay(pool=pool, writer=writer)
    everywhere = []  # every serving process keeps its own cache
    if cache.capacity > 0:
        channel = CHANNEL_PREFIX + config.schema
        everywhere.append(Listener(config.database_url, channel, on_notify=cache.on_notify, on_live=cache.on_live).run)
    try:
        yield Running(
            server, folding(config, js, pool, runner, [rfm.run, segments.recompute.run, relay.run]), everywhere
        )
    finally:
        await readers.close()
        await identity.close()
        await writer.close()
        await nc.drain()
        await pool.close()
