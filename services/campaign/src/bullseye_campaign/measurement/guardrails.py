"""The guardrails' job: while a campaign with a rollout runs, look every CAMPAIGN_GUARDRAIL_POLL
whether a variant converts significantly worse than the control or the arms mismatch their
weights (domain/guardrails.py); if so, pause the campaign and raise a `campaign.alert`, in one
transaction. An AUTOMATIC rollout advances when its stage ran long enough with enough people
per arm and nothing tripped. An operator who resumes a campaign a guardrail paused mutes the
guardrail for that stage (they accepted what it saw); it watches again from the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import facts_pb2 as fpb
from bullseye_platform.jobs import Job
from bullseye_platform.store.pool import Connection

from bullseye_campaign.adapters.facts import Facts, timestamp
from bullseye_campaign.adapters.store import campaigns
from bullseye_campaign.adapters.store.campaigns import Stored
from bullseye_campaign.control.changes import Control
from bullseye_campaign.delivery.instruments import DeliveryInstruments
from bullseye_campaign.domain import guardrails
from bullseye_campaign.domain.lifecycle import Command
from bullseye_campaign.measurement.counts import totals

log = logging.getLogger(__name__)
S = cpb.CampaignState
GUARDRAIL, ROLLOUT = "guardrail", "rollout"


class Guardrails:
    def __init__(
        self, *, control: Control, facts: Facts, clock: Callable[[], datetime], poll: float, tuning: int,
        srm_alpha: float, instruments: DeliveryInstruments,
    ) -> None:  # fmt: skip
        self._control, self._facts, self._clock = control, facts, clock
        self._poll, self._tuning, self._alpha, self._instruments = (
            timedelta(seconds=poll),
            tuning,
            srm_alpha,
            instruments,
        )

    async def watch(self, conn: Connection, job: Job) -> datetime | None:
        stored = await campaigns.get(conn, job.key, lock="UPDATE")
        if stored is None or stored.campaign.state not in campaigns.LIVE:
            return None
        now = self._clock()
        if stored.campaign.state == S.CAMPAIGN_STATE_RUNNING and stored.campaign.holdout_percent:
            await self._check(conn, stored, now)
        return now + self._poll

    async def _check(self, conn: Connection, stored: Stored, now: datetime) -> None:
        campaign = stored.campaign
        arms, _ = await totals(conn, campaign)
        counts = [guardrails.ArmCounts(a.arm, a.audience, a.converted, a.share) for a in arms]
        control, variants = counts[0], counts[1:]
        muted = stored.muted_stage == campaign.rollout_stage
        alerts = [] if muted else guardrails.check(
            control, variants, max_drop=campaign.rollout.max_conversion_drop, tuning=self._tuning,
            srm_alpha=self._alpha)  # fmt: skip
        if alerts:
            await self._trip(conn, stored, alerts, now)
        elif self._may_advance(stored, counts, now):
            await self._control.advance(conn, stored, expected_stage=campaign.rollout_stage, now=now, actor=ROLLOUT)

    def _may_advance(self, stored: Stored, counts: list[guardrails.ArmCounts], now: datetime) -> bool:
        rollout = stored.campaign.rollout
        if rollout.advance != cpb.ROLLOUT_ADVANCE_AUTOMATIC or stored.stage_started_at is None:
            return False
        if stored.campaign.rollout_stage >= len(rollout.stage_percents) - 1:
            return False
        return guardrails.ready_to_advance(
            stage_started_at=stored.stage_started_at, now=now, arms=counts, alerts=[],
            min_stage_duration=rollout.min_stage_duration.ToTimedelta(), min_arm_size=rollout.min_arm_size,
        )  # fmt: skip

    async def _trip(self, conn: Connection, stored: Stored, alerts: list[guardrails.Alert], now: datetime) -> None:
        campaign = stored.campaign
        summary = "; ".join(a.detail for a in alerts)
        stored.tripped = True
        await self._control.command(conn, stored, Command.PAUSE, now=now, actor=GUARDRAIL, reason=summary)
        messages = []
        for n, alert in enumerate(alerts):
            fact = fpb.CampaignAlert(
                campaign_id=campaign.campaign_id, campaign_version=campaign.version, kind=alert.kind,  # type: ignore[arg-type]
                variant_id=alert.variant_id, detail=alert.detail, rollout_stage=campaign.rollout_stage,
                raised_at=timestamp(now),
            )  # fmt: skip
            msg_id = f"alert:{campaign.campaign_id}:{stored.changes}:{n}"
            messages.append(self._facts.campaign(fpb.CampaignRecord(alert=fact), campaign_id=campaign.campaign_id,
                                                 msg_id=msg_id))  # fmt: skip
            self._instruments.alerted(alert.kind)
        await self._facts.emit(conn, messages)
        log.warning("campaign %s paused by its guardrail: %s", campaign.campaign_id, summary)
