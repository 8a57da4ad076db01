"""CampaignService: the definition, lifecycle and insight RPCs, served as one gRPC service."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from bullseye.campaign.v1 import campaign_pb2_grpc
from bullseye_platform.clock import Clock

from bullseye_campaign.adapters.channels import Channels
from bullseye_campaign.adapters.identity_client import IdentityClient
from bullseye_campaign.adapters.profile_client import ProfileClient
from bullseye_campaign.api.insight_rpcs import InsightRpcs
from bullseye_campaign.api.lifecycle_rpcs import LifecycleRpcs
from bullseye_campaign.control.changes import Control
from bullseye_campaign.delivery.personalize import Personalizer
from bullseye_campaign.domain.assignment import StableHash
from bullseye_campaign.domain.templates import Templates


@dataclass(frozen=True, kw_only=True)
class Parts:
    """What the RPCs use, built by bootstrap.py."""

    pool: asyncpg.Pool
    clock: Clock
    templates: Templates
    profile: ProfileClient
    identity: IdentityClient
    control: Control
    channels: Channels
    personalizer: Personalizer
    hasher: StableHash
    has_recommendation: bool
    tuning: int
    srm_alpha: float


class CampaignServicer(LifecycleRpcs, InsightRpcs, campaign_pb2_grpc.CampaignServiceServicer):
    def __init__(self, parts: Parts) -> None:
        self._pool, self._clock, self._templates, self._profile = (
            parts.pool,
            parts.clock,
            parts.templates,
            parts.profile,
        )
        self._identity, self._control, self._channels = parts.identity, parts.control, parts.channels
        self._personalizer, self._hasher, self._has_recommendation = (
            parts.personalizer,
            parts.hasher,
            parts.has_recommendation,
        )
        self._tuning, self._srm_alpha = parts.tuning, parts.srm_alpha
