"""The composition root: every connection and object of the campaign process is built here."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import grpc
from bullseye.campaign.v1 import campaign_pb2, campaign_pb2_grpc
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.identity.v1 import identity_pb2
from bullseye.profile.v1 import profile_pb2
from bullseye.recommendation.v1 import recommendation_pb2
from bullseye_platform import replay
from bullseye_platform.assignment import Sha256Hash
from bullseye_platform.clock import Clock
from bullseye_platform.eventlog import LogWriter, connect, ensure_stream
from bullseye_platform.grpc import GrpcServer, client
from bullseye_platform.instruments.log import consumer_lag, stream_storage
from bullseye_platform.instruments.outbox import outbox_backlog
from bullseye_platform.jobs import Backoff, JobWorker, Queue
from bullseye_platform.outbox import OutboxRelay
from bullseye_platform.projection import ProjectionRunner, Source
from bullseye_platform.service import Running
from bullseye_platform.store import open_migrated_pool
from google.protobuf.descriptor import ServiceDescriptor
from nats.js import JetStreamContext

from bullseye_campaign.adapters.channels import Channels
from bullseye_campaign.adapters.channels.base import ChannelAdapter
from bullseye_campaign.adapters.channels.http import HttpChannel
from bullseye_campaign.adapters.channels.smtp import SmtpChannel
from bullseye_campaign.adapters.facts import Facts
from bullseye_campaign.adapters.identity_client import IdentityClient
from bullseye_campaign.adapters.profile_client import ProfileClient
from bullseye_campaign.adapters.recommendation_client import RecommendationClient
from bullseye_campaign.api.servicer import CampaignServicer, Parts
from bullseye_campaign.config import CampaignConfig
from bullseye_campaign.control import queues
from bullseye_campaign.control.changes import Control
from bullseye_campaign.control.timers import Timers
from bullseye_campaign.delivery import waits
from bullseye_campaign.delivery.broadcasts import Broadcaster
from bullseye_campaign.delivery.handoff import Handoffs
from bullseye_campaign.delivery.instruments import DeliveryInstruments
from bullseye_campaign.delivery.personalize import Personalizer
from bullseye_campaign.delivery.sending import Sender
from bullseye_campaign.domain.templates import Templates
from bullseye_campaign.measurement.guardrails import Guardrails
from bullseye_campaign.projections.campaign import CampaignProjection

SERVICE = campaign_pb2.DESCRIPTOR.services_by_name["CampaignService"]
C = cpb.Channel


def calls(config: CampaignConfig, address: str, service: ServiceDescriptor) -> grpc.aio.Channel:
    """A channel to another service, as campaign (its token, TLS, deadline, retries)."""
    return client.channel(address, credentials=config.credentials(), service=service, tls=config.client_tls(),
                          deadline=config.call_timeout)  # fmt: skip


async def open_store(config: CampaignConfig) -> asyncpg.Pool:
    """The pool, with migrations applied (also what `bullseye-campaign migrate` runs)."""
    return await open_migrated_pool(config.database_url, schema=config.schema, package="bullseye_campaign")


def channels(config: CampaignConfig) -> Channels:
    """An adapter per channel this deployment has an endpoint for."""
    adapters: dict[int, ChannelAdapter] = {}
    if config.smtp_host:
        adapters[C.CHANNEL_EMAIL] = SmtpChannel(
            host=config.smtp_host,
            port=config.smtp_port,
            sender=config.email_from,
            connections=config.smtp_connections,
            domain=config.message_id_domain,
        )
    for channel, url in ((C.CHANNEL_PUSH, config.push_url), (C.CHANNEL_SMS, config.sms_url),
                         (C.CHANNEL_IN_APP, config.in_app_url), (C.CHANNEL_WEBHOOK, config.webhook_url)):  # fmt: skip
        if url:
            adapters[channel] = HttpChannel(url, connections=config.http_connections,
                                            webhook=channel == C.CHANNEL_WEBHOOK)  # fmt: skip
    return Channels(adapters)


def sources(config: CampaignConfig) -> list[Source]:
    """RESOLVED and PROFILE, every partition (one campaign process folds them; see deploy/README.md)."""
    return [
        Source(config.resolved_stream, config.resolved_subject_prefix, range(config.resolved_partitions)),
        Source(config.profile_stream, config.profile_subject_prefix, range(config.profile_partitions)),
    ]


def projection_runner(
    config: CampaignConfig, js: JetStreamContext, pool: asyncpg.Pool, *, plan: replay.Replay | None = None
) -> ProjectionRunner:
    projection = CampaignProjection(resolved_stream=config.resolved_stream, now=config.clock().now)
    return ProjectionRunner(js=js, pool=pool, projection=projection, sources=sources(config), replay=plan,
                            batch_size=config.batch_size, linger=config.linger)  # fmt: skip


@dataclass(frozen=True)
class Clients:
    """The channels to the services campaign calls (recommendation only when configured)."""

    identity: IdentityClient
    profile: ProfileClient
    recommendation: RecommendationClient | None

    @classmethod
    def of(cls, config: CampaignConfig) -> Clients:
        def service(module: Any, name: str) -> ServiceDescriptor:
            return module.DESCRIPTOR.services_by_name[name]  # type: ignore[no-any-return]

        identity = IdentityClient(calls(config, config.identity_address, service(identity_pb2, "IdentityService")))
        profile = ProfileClient(calls(config, config.profile_address, service(profile_pb2, "ProfileService")))
        recommendation = None
        if config.recommendation_address:
            channel = calls(config, config.recommendation_address, service(recommendation_pb2, "RecommendationService"))
            recommendation = RecommendationClient(channel, items=config.recommended_items)
        return cls(identity, profile, recommendation)

    async def close(self) -> None:
        for closing in (self.identity, self.profile, self.recommendation):
            if closing is not None:
                await closing.close()


@dataclass(frozen=True)
class Core:
    """What the RPCs and the workers share."""

    clock: Clock
    facts: Facts
    templates: Templates
    hasher: Sha256Hash
    control: Control
    personalizer: Personalizer
    outlets: Channels
    instruments: DeliveryInstruments


def core(config: CampaignConfig, clients: Clients) -> Core:
    facts, templates = (
        Facts(subject_prefix=config.subject_prefix, partitions=config.partitions),
        Templates(config.template_limits()),
    )
    personalizer = Personalizer(templates=templates, profile=clients.profile, recommendation=clients.recommendation)
    return Core(config.clock(), facts, templates, Sha256Hash(), Control(facts=facts), personalizer, channels(config),
                DeliveryInstruments())  # fmt: skip


def lanes(config: CampaignConfig, clients: Clients, parts: Core) -> list[Queue]:
    """Every job queue and what runs it."""
    now = parts.clock.now
    sender = Sender(identity=clients.identity, facts=parts.facts, hasher=parts.hasher, clock=now,
                    paused_recheck=config.paused_recheck, instruments=parts.instruments)  # fmt: skip
    handoffs = Handoffs(
        identity=clients.identity, personalizer=parts.personalizer, channels=parts.outlets, facts=parts.facts,
        clock=now, attempts=config.delivery_attempts, instruments=parts.instruments,
        backoff=Backoff(first=config.retry_first, most=config.retry_most),
    )  # fmt: skip
    broadcaster = Broadcaster(profile=clients.profile, hasher=parts.hasher, clock=now, page=config.broadcast_page,
                              settle=config.broadcast_settle, paused_recheck=config.paused_recheck)  # fmt: skip
    timers = Timers(control=parts.control, profile=clients.profile, clock=now)
    guardrails = Guardrails(
        control=parts.control, facts=parts.facts, clock=now, poll=config.guardrail_poll,
        tuning=config.sequential_tuning, srm_alpha=config.srm_alpha, instruments=parts.instruments,
    )  # fmt: skip
    return [
        Queue(queues.SEND, batch_size=config.send_batch, handle_batch=sender.decide_batch),
        Queue(queues.HANDOFF, batch_size=config.handoff_batch, handle_batch=handoffs.hand_off_batch),
        Queue(queues.WAIT, waits.ran_out, batch_size=200), Queue(queues.BROADCAST, broadcaster.step),
        Queue(queues.START, timers.start), Queue(queues.END, timers.end), Queue(queues.COMPLETE, timers.complete),
        Queue(queues.CLEANUP, timers.cleanup), Queue(queues.GUARDRAILS, guardrails.watch),
    ]  # fmt: skip


def servicer(config: CampaignConfig, pool: asyncpg.Pool, clients: Clients, parts: Core) -> CampaignServicer:
    return CampaignServicer(Parts(
        pool=pool, clock=parts.clock, templates=parts.templates, profile=clients.profile, identity=clients.identity,
        control=parts.control, channels=parts.outlets, personalizer=parts.personalizer, hasher=parts.hasher,
        has_recommendation=clients.recommendation is not None, tuning=config.sequential_tuning,
        srm_alpha=config.srm_alpha,
    ))  # fmt: skip


@contextlib.asynccontextmanager
async def build(config: CampaignConfig) -> AsyncIterator[Running]:
    """Everything wired; the projection, the job lanes (sends, handoffs, waits, broadcasts, timers,
    guardrails) and the outbox relay run as workers."""
    pool = await open_store(config)
    nc = await connect(config.nats_url, name="bullseye-campaign")
    js = nc.jetstream()
    await ensure_stream(js, config.owned_stream())
    writer, clients = LogWriter(nc), Clients.of(config)
    parts = core(config, clients)
    worker = JobWorker(pool=pool, queues=lanes(config, clients, parts), clock=parts.clock.now, poll=config.job_poll,
                       linger=config.linger)  # fmt: skip
    projection = CampaignProjection(resolved_stream=config.resolved_stream, now=parts.clock.now)
    plan = await replay.plan(pool, js, projection=projection, sources=sources(config)) if config.projection else None
    runner = projection_runner(config, js, pool, plan=plan)
    server = GrpcServer(config.server_options(), authenticators=[config.token_verifier()])
    server.add(campaign_pb2_grpc.add_CampaignServiceServicer_to_server, servicer(config, pool, clients, parts),
               SERVICE.full_name)  # fmt: skip
    probes = [
        consumer_lag(js, config.resolved_stream, lambda: runner.durables(config.resolved_stream)),
        consumer_lag(js, config.profile_stream, lambda: runner.durables(config.profile_stream)),
        stream_storage(js, config.stream), outbox_backlog(pool),
    ]  # fmt: skip
    relay = OutboxRelay(pool=pool, writer=writer, linger=config.linger)
    folding = [runner.run, *config.sampled(*probes)] if config.projection else []
    try:
        yield Running(server, [*folding, worker.run, relay.run])
    finally:
        await parts.outlets.close()
        await clients.close()
        await writer.close()
        await nc.drain()
        await pool.close()
