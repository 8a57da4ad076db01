"""Campaign's configuration: CAMPAIGN_* variables with the documented defaults, loud on mistakes."""

from __future__ import annotations

import pytest
from bullseye_campaign.config import PREFIX, CampaignConfig
from bullseye_campaign.domain.templates import TemplateLimits
from bullseye_platform.config import ConfigError, load

from tests import credentials

KEYS = credentials.keys()
SHARED = {
    "NATS_URL": "nats://127.0.0.1:4222", "DATABASE_URL": "postgresql://u@127.0.0.1/db",
    "CAMPAIGN_SIGNING_KEY": KEYS["INGESTION_SIGNING_KEY"], "BULLSEYE_TRUSTED_KEYS": KEYS["BULLSEYE_TRUSTED_KEYS"],
}  # fmt: skip


def test_defaults_are_the_issues_port_schema_and_stream() -> None:
    config = load(CampaignConfig, prefix=PREFIX, environ=SHARED)
    assert (config.grpc_port, config.schema, config.stream, config.subject_prefix) == (
        50055, "campaign", "CAMPAIGN", "campaign")  # fmt: skip
    assert config.template_limits() == TemplateLimits(max_output=65_536, max_loop_iterations=2_000, max_assigned=65_536)


def test_template_limits_come_from_the_environment() -> None:
    config = load(CampaignConfig, prefix=PREFIX, environ={**SHARED, "CAMPAIGN_TEMPLATE_MAX_OUTPUT": "1024"})
    assert config.template_limits().max_output == 1_024


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CAMPAIGN_SRM_ALPHA", "0.7", "CAMPAIGN_SRM_ALPHA: 0.7 is outside (0, 0.5)"),
        ("CAMPAIGN_SEQUENTIAL_TUNING", "0", "CAMPAIGN_SEQUENTIAL_TUNING: 0 must be at least 1"),
        ("CAMPAIGN_GRPC_PORT", "port", "CAMPAIGN_GRPC_PORT='port' is not a valid"),
        ("CAMPAIGN_PUSH_URL", "ftp://push.example/", "CAMPAIGN_PUSH_URL: 'ftp://push.example/' is not an http://"),
        ("CAMPAIGN_WEBHOOK_URL", "https:///hooks", "CAMPAIGN_WEBHOOK_URL: 'https:///hooks' names no host"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(CampaignConfig, prefix=PREFIX, environ={**SHARED, variable: value})
