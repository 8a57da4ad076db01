"""Campaign's configuration: CAMPAIGN_* variables, plus the shared NATS_URL and DATABASE_URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bullseye_platform.clock import ClockSettings
from bullseye_platform.config import ConfigError, Duration, env
from bullseye_platform.service import ServiceConfig, WorkerSettings

from bullseye_campaign.adapters.channels.post_client import Endpoint
from bullseye_campaign.domain.templates import TemplateLimits

PREFIX = "CAMPAIGN"


@dataclass(frozen=True, kw_only=True)
class CampaignConfig(ServiceConfig, ClockSettings, WorkerSettings):
    prefix: ClassVar[str] = PREFIX
    grpc_port: int = env("GRPC_PORT", default=50055, help="gRPC port (0 = any free port)")
    schema: str = env("SCHEMA", default="campaign", help="PostgreSQL schema for campaign's tables")
    stream: str = env("STREAM", default="CAMPAIGN", help="JetStream stream written (message and campaign facts)")
    subject_prefix: str = env("SUBJECT_PREFIX", default="campaign", help="subjects are <prefix>.<partition>.<kind>")
    resolved_stream: str = env("RESOLVED_STREAM", default="RESOLVED", help="JetStream stream of resolved events")
    resolved_subject_prefix: str = env("RESOLVED_SUBJECT_PREFIX", default="resolved", help="subjects of RESOLVED")
    resolved_partitions: int = env("RESOLVED_PARTITIONS", default=16, help="partitions of RESOLVED (as identity's)")
    profile_stream: str = env("PROFILE_STREAM", default="PROFILE", help="JetStream stream of segment facts")
    profile_subject_prefix: str = env("PROFILE_SUBJECT_PREFIX", default="profile", help="subjects of PROFILE")
    profile_partitions: int = env("PROFILE_PARTITIONS", default=16, help="partitions of PROFILE (as profile's)")
    batch_size: int = env("BATCH_SIZE", default=500, help="RESOLVED or PROFILE records folded per transaction")
    projection: bool = env(
        "PROJECTION",
        default=True,
        help="fold RESOLVED and PROFILE here: exactly one process of a deployment may (its consumers read every "
        "partition); false = serve RPCs and run the job lanes only (replicas scaled by load)",
    )
    identity_address: str = env(
        "IDENTITY_ADDRESS", default="127.0.0.1:50052", help="identity gRPC address (contacts at send time)"
    )
    profile_address: str = env(
        "PROFILE_ADDRESS", default="127.0.0.1:50053", help="profile gRPC address (segments, traits and tags)"
    )
    recommendation_address: str = env(
        "RECOMMENDATION_ADDRESS",
        default="",
        help="recommendation gRPC address (items for templates that use them); empty = such templates cannot launch",
    )
    call_timeout: Duration = env("CALL_TIMEOUT", default=Duration(5), help="deadline of a call to another service")
    recommended_items: int = env("RECOMMENDED_ITEMS", default=6, help="items fetched per message that uses `items`")
    send_batch: int = env("SEND_BATCH", default=500, help="sends decided per transaction")
    # As many as a send batch decides: the handoff lane runs one transaction at a time, and at 200
    # its fixed cost per pass (claim, reads, identity's call, the commit) held a broadcast to
    # 1,440-1,570 msgs/s while the decisions ran ahead (README, campaign benchmarks: 2,000-2,200 at 500).
    handoff_batch: int = env("HANDOFF_BATCH", default=500, help="messages handed to channels per transaction")
    job_poll: Duration = env(
        "JOB_POLL", default=Duration(5), help="longest wait of a job lane (sends, timers) without a notification"
    )
    delivery_attempts: int = env(
        "DELIVERY_ATTEMPTS", default=6, help="handoffs tried before a transiently failing message is dead-lettered"
    )
    retry_first: Duration = env("RETRY_FIRST", default=Duration(2), help="delay before the first retry of a handoff")
    retry_most: Duration = env("RETRY_MOST", default=Duration(300), help="longest delay between two handoffs")
    paused_recheck: Duration = env(
        "PAUSED_RECHECK", default=Duration(60), help="how often a send held by a paused campaign looks again"
    )
    broadcast_page: int = env("BROADCAST_PAGE", default=2_000, help="audience members a broadcast enters per step")
    broadcast_settle: Duration = env(
        "BROADCAST_SETTLE",
        default=Duration(60),
        help="longest a broadcast waits for campaign's view of its segment to match profile's count",
    )
    smtp_host: str = env("SMTP_HOST", default="", help="SMTP relay host for email; empty = no email channel")
    smtp_port: int = env("SMTP_PORT", default=25, help="SMTP relay port")
    smtp_connections: int = env("SMTP_CONNECTIONS", default=4, help="SMTP connections used side by side")
    email_from: str = env("EMAIL_FROM", default="Bullseye <no-reply@bullseye.invalid>", help="From header of emails")
    message_id_domain: str = env(
        "MESSAGE_ID_DOMAIN", default="bullseye.invalid", help="right-hand side of emails' Message-ID (<key@domain>)"
    )
    push_url: str = env("PUSH_URL", default="", help="HTTP endpoint push messages are POSTed to; empty = no push")
    sms_url: str = env("SMS_URL", default="", help="HTTP endpoint SMS messages are POSTed to; empty = no SMS")
    in_app_url: str = env("IN_APP_URL", default="", help="HTTP endpoint in-app messages are POSTed to; empty = none")
    webhook_url: str = env("WEBHOOK_URL", default="", help="HTTP endpoint webhook messages are POSTed to; empty = none")
    http_connections: int = env("HTTP_CONNECTIONS", default=32, help="HTTP connections per channel endpoint")
    template_max_output: int = env(
        "TEMPLATE_MAX_OUTPUT", default=65_536, help="bytes one rendered template may write (more fails the message)"
    )
    template_max_loop_iterations: int = env(
        "TEMPLATE_MAX_LOOP_ITERATIONS", default=2_000, help="loop iterations one render may run (all loops together)"
    )
    template_max_assigned: int = env(
        "TEMPLATE_MAX_ASSIGNED", default=65_536, help="bytes a render may hold in assign/capture variables"
    )
    srm_alpha: float = env("SRM_ALPHA", default=0.001, help="sample-ratio mismatch is flagged below this p-value")
    sequential_tuning: int = env(
        "SEQUENTIAL_TUNING",
        default=5_000,
        help="anytime-valid intervals are tightest near this many people in the arms compared (GrowthBook's default)",
    )
    guardrail_poll: Duration = env(
        "GUARDRAIL_POLL", default=Duration(300), help="how often running rollouts are checked against guardrails"
    )

    def template_limits(self) -> TemplateLimits:
        return TemplateLimits(
            max_output=self.template_max_output,
            max_loop_iterations=self.template_max_loop_iterations,
            max_assigned=self.template_max_assigned,
        )

    def __post_init__(self) -> None:
        ServiceConfig.__post_init__(self)
        ClockSettings.__post_init__(self)
        if not 0.0 < self.srm_alpha < 0.5:
            raise ConfigError(f"CAMPAIGN_SRM_ALPHA: {self.srm_alpha} is outside (0, 0.5)")
        if self.sequential_tuning < 1:
            raise ConfigError(f"CAMPAIGN_SEQUENTIAL_TUNING: {self.sequential_tuning} must be at least 1")
        for name in ("send_batch", "handoff_batch", "delivery_attempts", "broadcast_page", "recommended_items"):
            if getattr(self, name) < 1:
                raise ConfigError(f"CAMPAIGN_{name.upper()}: {getattr(self, name)} must be at least 1")
        for name in ("push_url", "sms_url", "in_app_url", "webhook_url"):
            if url := getattr(self, name):
                try:
                    Endpoint.parse(url)
                except ValueError as exc:
                    raise ConfigError(f"CAMPAIGN_{name.upper()}: {exc}") from None
        if self.send_batch > 500:
            raise ConfigError(f"CAMPAIGN_SEND_BATCH: {self.send_batch} is over 500 (identity's BatchGetContacts)")
