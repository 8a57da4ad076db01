"""Launch, Pause, Resume, Cancel and AdvanceRollout. A mixin of the servicer.

Launch checks what a running campaign cannot do without, beyond the definition itself: the
segments it names exist, every channel has an adapter in this deployment, templates that
show items have the recommendation service to ask, and an inline audience rule becomes the
campaign's own segment in profile (created before the state changes: a retry finds it made).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import grpc
from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye_platform.auth.principal import caller
from bullseye_platform.grpc import FailedPrecondition

from bullseye_campaign.adapters.channels import Channels
from bullseye_campaign.adapters.store.campaigns import Stored
from bullseye_campaign.api import requests as check
from bullseye_campaign.api.definition_rpcs import DefinitionRpcs, stale
from bullseye_campaign.control.changes import Control
from bullseye_campaign.delivery.personalize import Personalizer
from bullseye_campaign.domain import keys
from bullseye_campaign.domain.lifecycle import Command

Context = grpc.aio.ServicerContext[Any, Any]
S = cpb.CampaignState


class LifecycleRpcs(DefinitionRpcs):
    _control: Control
    _channels: Channels
    _personalizer: Personalizer
    _has_recommendation: bool

    async def LaunchCampaign(self, request: apb.LaunchCampaignRequest, context: Context) -> apb.LaunchCampaignResponse:
        if request.expected_version < 1:
            raise check.invalid("expected_version", "required: the version you reviewed (GetCampaign)")
        now = self._clock.now()
        async with self._pool.acquire() as conn:
            stored = await self._stored(conn, request.campaign_id)
        owned = ""
        if stored.campaign.state == S.CAMPAIGN_STATE_DRAFT:
            owned = await self._ready(stored, request.expected_version, now)
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await self._stored(conn, request.campaign_id, lock="UPDATE")
            if stored.campaign.state == S.CAMPAIGN_STATE_DRAFT:
                if stored.campaign.version != request.expected_version:
                    raise stale(stored, request.expected_version)
                stored.campaign.audience.owned_segment_id = owned
            await self._control.command(conn, stored, Command.LAUNCH, now=now, actor=caller().name)
        return apb.LaunchCampaignResponse(campaign=stored.campaign)

    async def _ready(self, stored: Stored, expected_version: int, now: datetime) -> str:
        """Check that the draft can run; returns its own segment's id ('' when it names one)."""
        campaign = stored.campaign
        if campaign.version != expected_version:
            raise stale(stored, expected_version)
        self._checked(campaign, launch=True, now=now)
        await self._segments_exist(campaign)
        missing = [cpb.Channel.Name(c) for c in self._channels.missing(list(campaign.channels))]  # type: ignore[arg-type]
        if missing:
            raise FailedPrecondition(
                f"this deployment has no endpoint for {', '.join(missing)}: set CAMPAIGN_SMTP_HOST (email) or "
                "CAMPAIGN_<CHANNEL>_URL, or take the channel out", reason="CHANNEL_NOT_CONFIGURED",
            )  # fmt: skip
        if not self._has_recommendation and self._personalizer.uses_items(campaign):
            raise FailedPrecondition("templates use `items` but CAMPAIGN_RECOMMENDATION_ADDRESS is not set",
                                     reason="RECOMMENDATION_NOT_CONFIGURED")  # fmt: skip
        if not campaign.audience.HasField("rule"):
            return ""
        owned = keys.owned_segment(campaign.campaign_id)
        await self._profile.create_owned(owned, name=f"campaign {campaign.name}", rule=campaign.audience.rule,
                                         path="campaign.audience.rule")  # fmt: skip
        return owned

    async def _command(self, campaign_id: str, command: Command, reason: str) -> cpb.Campaign:
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await self._stored(conn, campaign_id, lock="UPDATE")
            await self._control.command(conn, stored, command, now=self._clock.now(), actor=caller().name,
                                        reason=check.reason(reason))  # fmt: skip
        return stored.campaign

    async def PauseCampaign(self, request: apb.PauseCampaignRequest, context: Context) -> apb.PauseCampaignResponse:
        return apb.PauseCampaignResponse(
            campaign=await self._command(request.campaign_id, Command.PAUSE, request.reason)
        )

    async def ResumeCampaign(self, request: apb.ResumeCampaignRequest, context: Context) -> apb.ResumeCampaignResponse:
        campaign = await self._command(request.campaign_id, Command.RESUME, request.reason)
        return apb.ResumeCampaignResponse(campaign=campaign)

    async def CancelCampaign(self, request: apb.CancelCampaignRequest, context: Context) -> apb.CancelCampaignResponse:
        campaign = await self._command(request.campaign_id, Command.CANCEL, request.reason)
        return apb.CancelCampaignResponse(campaign=campaign)

    async def AdvanceRollout(self, request: apb.AdvanceRolloutRequest, context: Context) -> apb.AdvanceRolloutResponse:
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await self._stored(conn, request.campaign_id, lock="UPDATE")
            await self._control.advance(conn, stored, expected_stage=request.expected_stage, now=self._clock.now(),
                                        actor=caller().name)  # fmt: skip
        return apb.AdvanceRolloutResponse(campaign=stored.campaign)
