"""Preview, GetReport, ListDeliveries and ExplainDecision: what would happen, what happened, and
how well it worked. A mixin of the servicer; nothing here writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc
from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import records_pb2 as rpb
from bullseye_platform.grpc import NotFound

from bullseye_campaign.adapters.facts import timestamp
from bullseye_campaign.adapters.identity_client import IdentityClient
from bullseye_campaign.adapters.store import deliveries, records
from bullseye_campaign.api import requests as check
from bullseye_campaign.api.definition_rpcs import DefinitionRpcs
from bullseye_campaign.delivery import snapshot
from bullseye_campaign.delivery.personalize import Personalizer, Wanted
from bullseye_campaign.delivery.situation import arm_of, situation
from bullseye_campaign.domain.assignment import CONTROL, StableHash
from bullseye_campaign.domain.decision import decide
from bullseye_campaign.domain.keys import SendKey
from bullseye_campaign.measurement.reports import report

Context = grpc.aio.ServicerContext[Any, Any]
PREVIEW = "preview"  # the occurrence of a preview (never recorded)


class InsightRpcs(DefinitionRpcs):
    _identity: IdentityClient
    _personalizer: Personalizer
    _hasher: StableHash
    _tuning: int
    _srm_alpha: float

    async def Preview(self, request: apb.PreviewRequest, context: Context) -> apb.PreviewResponse:
        asked = check.person_id(request.person_id)
        at = request.at.ToDatetime(tzinfo=UTC) if request.HasField("at") else self._clock.now()
        async with self._pool.acquire() as conn:
            campaign = (await self._stored(conn, request.campaign_id)).campaign
            person = await self._identity.person(asked)
            if person is None:
                raise NotFound(f"nobody has the person id {asked!r}", reason="PERSON_NOT_FOUND",
                               metadata={"person_id": asked})  # fmt: skip
            seen = await snapshot.read(conn, self._identity, [campaign], [(campaign.campaign_id, person)], now=at)
        key = SendKey(campaign.campaign_id, person, PREVIEW)
        found = situation(self._hasher, campaign, key, at, seen)
        verdict = decide(found)
        decision = rpb.Decision(
            campaign_id=campaign.campaign_id, campaign_version=campaign.version, person_id=person, step=key.step,
            occurrence_id=PREVIEW, outcome=verdict.outcome, reason=verdict.reason, detail=verdict.detail,  # type: ignore[arg-type]
            arm=found.arm, decided_at=timestamp(at), checks=verdict.checks,
        )  # fmt: skip
        if verdict.held_until is not None:
            decision.held_until.CopyFrom(timestamp(verdict.held_until))
        if verdict.channels:
            decision.channel, decision.message_id = verdict.channels[0], key.message_id(verdict.channels[0])  # type: ignore[assignment]
        messages = await self._previewed(campaign, person, found.arm, key, seen.contacts)
        return apb.PreviewResponse(arm=found.arm, messages=messages, decision=decision)

    async def _previewed(
        self, campaign: cpb.Campaign, person: str, arm: str, key: SendKey, contacts: Any
    ) -> list[apb.RenderedMessage]:
        if arm == CONTROL:
            return []
        wanted = [Wanted(key.message_id(c), person, campaign, arm, c) for c in campaign.channels]
        rendered = await self._personalizer.render_many(wanted, contacts)
        return [rendered[w.message_id] for w in wanted]

    async def GetReport(self, request: apb.GetReportRequest, context: Context) -> apb.GetReportResponse:
        async with self._pool.acquire() as conn:
            campaign = (await self._stored(conn, request.campaign_id)).campaign
            measured = await report(conn, campaign, now=self._clock.now(), sequential=request.sequential,
                                    tuning=self._tuning, srm_alpha=self._srm_alpha)  # fmt: skip
        return apb.GetReportResponse(report=measured)

    async def ListDeliveries(self, request: apb.ListDeliveriesRequest, context: Context) -> apb.ListDeliveriesResponse:
        size = check.page_size(request.page_size, default=100, most=500)
        created, message = check.untoken(request.page_token, 2)
        after = (datetime.fromisoformat(created), message) if created else None
        async with self._pool.acquire() as conn:
            if request.WhichOneof("subject") == "campaign_id":
                await self._stored(conn, request.campaign_id)
                found = await deliveries.page(conn, campaign_id=request.campaign_id, after=after, limit=size)
            elif request.WhichOneof("subject") == "person_id":
                found = await deliveries.page(conn, person_id=check.person_id(request.person_id), after=after,
                                              limit=size)  # fmt: skip
            else:
                raise check.invalid("subject", "set person_id or campaign_id")
        last = found[-1] if len(found) == size else None
        token = check.token(last.created_at.ToDatetime(tzinfo=UTC).isoformat(), last.message_id) if last else ""
        return apb.ListDeliveriesResponse(deliveries=found, next_page_token=token)

    async def ExplainDecision(
        self, request: apb.ExplainDecisionRequest, context: Context
    ) -> apb.ExplainDecisionResponse:
        person = check.person_id(request.person_id)
        limit = check.page_size(request.limit, default=20, most=100, field="limit")
        async with self._pool.acquire() as conn:
            campaign = (await self._stored(conn, request.campaign_id)).campaign
            decisions = await deliveries.decisions(conn, campaign.campaign_id, person, limit=limit)
            arms = snapshot.Snapshot(now=self._clock.now())
            arms.participants = await records.participants(conn, [(campaign.campaign_id, person)])
        return apb.ExplainDecisionResponse(arm=arm_of(self._hasher, campaign, person, arms), decisions=decisions)
