"""The clock's part in a campaign's life: it starts at its start time, completes at its end time,
a one-off broadcast completes once every person it entered is decided, and a campaign's own
segment is deleted in profile when the campaign ends (jobs, so a restart or an unanswered call
loses nothing)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye_platform.jobs import Job
from bullseye_platform.store.pool import Connection

from bullseye_campaign.adapters.profile_client import ProfileClient
from bullseye_campaign.adapters.store import campaigns
from bullseye_campaign.control.changes import Control
from bullseye_campaign.delivery import broadcasts, entries
from bullseye_campaign.domain.lifecycle import Command

S = cpb.CampaignState
CLOCK = "schedule"  # the actor of the clock's changes
COMPLETE_POLL = timedelta(seconds=5)


class Timers:
    def __init__(self, *, control: Control, profile: ProfileClient, clock: Callable[[], datetime]) -> None:
        self._control, self._profile, self._clock = control, profile, clock

    async def start(self, conn: Connection, job: Job) -> datetime | None:
        stored = await campaigns.get(conn, job.key, lock="UPDATE")
        if stored is not None and stored.campaign.state == S.CAMPAIGN_STATE_SCHEDULED:
            await self._control.command(conn, stored, Command.START, now=self._clock(), actor=CLOCK,
                                        reason="its start time came")  # fmt: skip
        return None

    async def end(self, conn: Connection, job: Job) -> datetime | None:
        stored = await campaigns.get(conn, job.key, lock="UPDATE")
        if stored is not None and stored.campaign.state in campaigns.LIVE:
            await self._control.command(conn, stored, Command.COMPLETE, now=self._clock(), actor=CLOCK,
                                        reason="its end time came")  # fmt: skip
        return None

    async def complete(self, conn: Connection, job: Job) -> datetime | None:
        """A one-off broadcast is complete when its runs are done at the last rollout stage and
        every person it entered was decided; until then, look again shortly."""
        stored = await campaigns.get(conn, job.key, lock="UPDATE")
        if stored is None or stored.campaign.state not in campaigns.LIVE:
            return None
        now = self._clock()
        if not await _done(conn, stored.campaign):
            return now + COMPLETE_POLL
        await self._control.command(conn, stored, Command.COMPLETE, now=now, actor=CLOCK,
                                    reason="its broadcast reached everyone")  # fmt: skip
        return None

    async def cleanup(self, conn: Connection, job: Job) -> datetime | None:
        await self._profile.delete_owned(job.key)
        return None


async def _done(conn: Connection, campaign: cpb.Campaign) -> bool:
    stages = list(campaign.rollout.stage_percents)
    if stages and campaign.rollout_stage < len(stages) - 1:
        return False
    if await broadcasts.unfinished(conn, campaign.campaign_id):
        return False
    return await entries.undecided(conn, campaign.campaign_id) == 0
