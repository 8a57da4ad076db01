"""Create, Update, Get and List: a campaign's definition, versioned. A mixin of the servicer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import grpc
from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye_platform.clock import Clock
from bullseye_platform.grpc import AlreadyExists, FailedPrecondition, NotFound
from google.protobuf.message import Message

from bullseye_campaign.adapters.facts import timestamp
from bullseye_campaign.adapters.profile_client import ProfileClient
from bullseye_campaign.adapters.store import campaigns as store
from bullseye_campaign.adapters.store.campaigns import Stored
from bullseye_campaign.api import requests as check
from bullseye_campaign.domain.lifecycle import check_update
from bullseye_campaign.domain.templates import Templates
from bullseye_campaign.domain.validation import check_campaign

Context = grpc.aio.ServicerContext[Any, Any]
OUTPUT = ("version", "state", "created_at", "updated_at", "launched_at", "rollout_stage")


def stale(stored: Stored, expected: int) -> FailedPrecondition:
    current = stored.campaign.version
    return FailedPrecondition(
        f"campaign {stored.campaign_id!r} is at version {current}, not {expected}: read it again",
        reason="VERSION_MISMATCH", metadata={"campaign_id": stored.campaign_id, "version": str(current)},
    )  # fmt: skip


class DefinitionRpcs:
    _pool: asyncpg.Pool
    _clock: Clock
    _templates: Templates
    _profile: ProfileClient

    async def _stored(self, conn: Any, campaign_id: str, *, lock: str = "") -> Stored:
        found = await store.get(conn, check.campaign_id(campaign_id), lock=lock)
        if found is None:
            raise check.not_found(campaign_id)
        return found

    async def _segments_exist(self, campaign: cpb.Campaign) -> None:
        """Every segment the audience names exists in profile.

        Raises:
            NotFound: naming the field and the segment.
        """
        named = [("campaign.audience.segment_id", campaign.audience.segment_id)] if campaign.audience.segment_id else []
        named += [(f"campaign.audience.exclude_segment_ids[{i}]", s)
                  for i, s in enumerate(campaign.audience.exclude_segment_ids)]  # fmt: skip
        for field, segment in named:
            if await self._profile.segment(segment) is None:
                raise NotFound(f"{field}: profile has no segment {segment!r}", reason="SEGMENT_NOT_FOUND",
                               metadata={"field": field, "segment_id": segment})  # fmt: skip

    def _checked(self, campaign: cpb.Campaign, *, launch: bool, now: datetime) -> None:
        check_campaign(campaign, templates=self._templates, launch=launch, now=now).raise_if_any(
            "the campaign is " + ("not ready to launch" if launch else "invalid")
        )

    async def CreateCampaign(self, request: apb.CreateCampaignRequest, context: Context) -> apb.CreateCampaignResponse:
        now = self._clock.now()
        campaign = cpb.Campaign()
        campaign.CopyFrom(request.campaign)
        for name in OUTPUT:
            campaign.ClearField(name)  # type: ignore[arg-type]
        campaign.audience.ClearField("owned_segment_id")
        campaign.campaign_id = campaign.campaign_id or f"c-{uuid.uuid4().hex[:16]}"
        self._checked(campaign, launch=False, now=now)
        await self._segments_exist(campaign)
        campaign.version, campaign.state = 1, cpb.CAMPAIGN_STATE_DRAFT
        campaign.created_at.CopyFrom(timestamp(now))
        campaign.updated_at.CopyFrom(timestamp(now))
        try:
            async with self._pool.acquire() as conn:
                await store.insert(conn, Stored(campaign))
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(f"campaign id {campaign.campaign_id!r} is taken", reason="CAMPAIGN_EXISTS",
                                metadata={"campaign_id": campaign.campaign_id}) from None  # fmt: skip
        return apb.CreateCampaignResponse(campaign=campaign)

    async def UpdateCampaign(self, request: apb.UpdateCampaignRequest, context: Context) -> apb.UpdateCampaignResponse:
        if request.expected_version < 1:
            raise check.invalid("expected_version", "required: the version you read (GetCampaign)")
        now = self._clock.now()
        proposed = cpb.Campaign()
        proposed.CopyFrom(request.campaign)
        self._checked(proposed, launch=False, now=now)
        await self._segments_exist(proposed)
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await self._stored(conn, proposed.campaign_id, lock="UPDATE")
            if stored.campaign.version != request.expected_version:
                raise stale(stored, request.expected_version)
            proposed.audience.owned_segment_id = stored.campaign.audience.owned_segment_id
            check_update(stored.campaign, proposed)
            keep_output(proposed, stored.campaign)
            proposed.version = stored.campaign.version + 1
            proposed.updated_at.CopyFrom(timestamp(now))
            stored.campaign = proposed
            await store.save(conn, stored)
        return apb.UpdateCampaignResponse(campaign=proposed)

    async def GetCampaign(self, request: apb.GetCampaignRequest, context: Context) -> apb.GetCampaignResponse:
        async with self._pool.acquire() as conn:
            return apb.GetCampaignResponse(campaign=(await self._stored(conn, request.campaign_id)).campaign)

    async def ListCampaigns(self, request: apb.ListCampaignsRequest, context: Context) -> apb.ListCampaignsResponse:
        size = check.page_size(request.page_size, default=100, most=500)
        (after,) = check.untoken(request.page_token, 1)
        states = check.states(list(request.states))
        async with self._pool.acquire() as conn:
            found = await store.page(conn, after=after, limit=size, states=states)
        token = check.token(found[-1].campaign_id) if len(found) == size else ""
        return apb.ListCampaignsResponse(campaigns=[s.campaign for s in found], next_page_token=token)


def keep_output(proposed: cpb.Campaign, stored: cpb.Campaign) -> None:
    """The output-only fields are the stored campaign's, whatever the request said."""
    for name in OUTPUT:
        proposed.ClearField(name)  # type: ignore[arg-type]
        value = getattr(stored, name)
        if not isinstance(value, Message):
            setattr(proposed, name, value)
        elif stored.HasField(name):  # type: ignore[arg-type]
            getattr(proposed, name).CopyFrom(value)
