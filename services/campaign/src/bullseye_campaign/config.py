"""Campaign's configuration: CAMPAIGN_* variables, plus the shared NATS_URL and DATABASE_URL.

Only what the contract and the domain need today; the service's processes (projections,
delivery, channels) add theirs when they are wired in bootstrap.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from bullseye_platform.config import ConfigError, Duration, env
from bullseye_platform.service import ServiceConfig

from bullseye_campaign.domain.templates import TemplateLimits

PREFIX = "CAMPAIGN"


@dataclass(frozen=True, kw_only=True)
class CampaignConfig(ServiceConfig):
    grpc_port: int = env("GRPC_PORT", default=50055, help="gRPC port (0 = any free port)")
    schema: str = env("SCHEMA", default="campaign", help="PostgreSQL schema for campaign's tables")
    stream: str = env("STREAM", default="CAMPAIGN", help="JetStream stream written (message and campaign facts)")
    subject_prefix: str = env("SUBJECT_PREFIX", default="campaign", help="subjects are <prefix>.<partition>.<kind>")
    resolved_stream: str = env("RESOLVED_STREAM", default="RESOLVED", help="JetStream stream of resolved events")
    profile_stream: str = env("PROFILE_STREAM", default="PROFILE", help="JetStream stream of segment facts")
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
        super().__post_init__()
        if not 0.0 < self.srm_alpha < 0.5:
            raise ConfigError(f"CAMPAIGN_SRM_ALPHA: {self.srm_alpha} is outside (0, 0.5)")
        if self.sequential_tuning < 1:
            raise ConfigError(f"CAMPAIGN_SEQUENTIAL_TUNING: {self.sequential_tuning} must be at least 1")
