"""Broadcasts: everyone in the audience at a moment enters, page by page, on a durable job.

A run waits until campaign's view of the audience segment (folded from PROFILE's facts) holds
what profile has computed, then pages through it in person order, scheduling one send per
member the rollout stage exposes; the cursor is stored with each page, so a restart resumes
where the last committed page ended. A stage advanced later widens the runs made so far (only
the persons it adds enter). A recurring broadcast plans its next run when one is done; a
one-off one asks whether the campaign is complete.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye_platform import jobs
from bullseye_platform.jobs import Job
from bullseye_platform.store.pool import Connection

from bullseye_campaign.adapters.profile_client import ProfileClient
from bullseye_campaign.adapters.store import campaigns
from bullseye_campaign.control import queues
from bullseye_campaign.delivery.entries import Entry, enter
from bullseye_campaign.domain import keys
from bullseye_campaign.domain.assignment import StableHash, exposed

log = logging.getLogger(__name__)
S = cpb.CampaignState
SETTLE_POLL = timedelta(seconds=1)
AT = "@"


def job_key(campaign_id: str, run_at: datetime, stage: int) -> str:
    return AT.join((campaign_id, run_at.isoformat(), str(stage)))


async def plan(
    conn: Connection, campaign_id: str, *, run_at: datetime, stage: int, now: datetime, widening: bool = False
) -> None:
    """A run of the broadcast at `run_at` for rollout stage `stage` (once per run and stage)."""
    await conn.execute(
        "INSERT INTO broadcast_runs (campaign_id, run_at, stage, widening, created_at) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT DO NOTHING",
        campaign_id, run_at, stage, widening, now,
    )  # fmt: skip
    await jobs.schedule(conn, queue=queues.BROADCAST, key=job_key(campaign_id, run_at, stage), due_at=run_at)


async def widen(conn: Connection, campaign_id: str, *, stage: int, now: datetime) -> None:
    """A rollout reached `stage`: every run made so far enters the persons the stage adds."""
    rows = await conn.fetch("SELECT DISTINCT run_at FROM broadcast_runs WHERE campaign_id = $1", campaign_id)
    for row in rows:
        await plan(conn, campaign_id, run_at=row["run_at"], stage=stage, now=now, widening=True)


async def stop(conn: Connection, campaign_id: str) -> None:
    await conn.execute("UPDATE broadcast_runs SET done = true WHERE campaign_id = $1", campaign_id)
    await conn.execute(
        "DELETE FROM scheduled_jobs WHERE queue = $1 AND key LIKE $2", queues.BROADCAST, campaign_id + AT + "%"
    )


async def unfinished(conn: Connection, campaign_id: str) -> bool:
    found = await conn.fetchval("SELECT 1 FROM broadcast_runs WHERE campaign_id = $1 AND NOT done", campaign_id)
    return found is not None


@dataclass(frozen=True)
class Run:
    campaign_id: str
    run_at: datetime
    stage: int
    widening: bool
    created_at: datetime
    after_person: str


class Broadcaster:
    """The BROADCAST queue's handler."""

    def __init__(
        self, *, profile: ProfileClient, hasher: StableHash, clock: Callable[[], datetime], page: int, settle: float,
        paused_recheck: float,
    ) -> None:  # fmt: skip
        self._profile, self._hasher, self._clock = profile, hasher, clock
        self._page, self._settle, self._paused = page, timedelta(seconds=settle), timedelta(seconds=paused_recheck)

    async def step(self, conn: Connection, job: Job) -> datetime | None:
        """Enter one page of the audience; returns when to go on (now), or None when the run is done."""
        campaign_id, run_at, stage = job.key.rsplit(AT, 2)
        run = await _run(conn, campaign_id, datetime.fromisoformat(run_at), int(stage))
        stored = await campaigns.get(conn, campaign_id)
        now = self._clock()
        if run is None or stored is None or stored.campaign.state not in campaigns.LIVE:
            return None
        if stored.campaign.state == S.CAMPAIGN_STATE_PAUSED:
            return now + self._paused
        segment = _audience(stored.campaign)
        if not await self._settled(conn, segment, run, now):
            return now + SETTLE_POLL
        members = await _page(conn, stored.campaign, segment, after=run.after_person, limit=self._page)
        await enter(conn, self._entries(stored.campaign, run, members, now))
        done = len(members) < self._page
        await conn.execute(
            "UPDATE broadcast_runs SET after_person = $4, done = $5 WHERE campaign_id = $1 AND run_at = $2 "
            "AND stage = $3",
            run.campaign_id, run.run_at, run.stage, members[-1] if members else run.after_person, done,
        )  # fmt: skip
        if done:
            await self._after(conn, stored.campaign, run, now)
        return None if done else now

    async def _settled(self, conn: Connection, segment: str, run: Run, now: datetime) -> bool:
        """Whether campaign's view of the segment holds what profile computed (or it waited long enough)."""
        state = await self._profile.segment(segment)
        if state is not None and state.ready:
            local = await conn.fetchval("SELECT count(*) FROM segment_members WHERE segment_id = $1", segment)
            if local == state.members:
                return True
        if now - run.created_at < self._settle:
            return False
        log.warning("broadcast %s: segment %s not settled after %s; entering its members as known here",
                    run.campaign_id, segment, self._settle)  # fmt: skip
        return True

    def _entries(self, campaign: cpb.Campaign, run: Run, members: list[str], now: datetime) -> list[Entry]:
        stages = list(campaign.rollout.stage_percents) or [100]
        occurrence = keys.broadcast_occurrence(run.run_at)
        entries = []
        for person in members:
            inside = exposed(self._hasher, campaign.campaign_id, person, percent=stages[run.stage])
            before = run.widening and exposed(self._hasher, campaign.campaign_id, person, percent=stages[run.stage - 1])
            if inside and not before:
                entries.append(Entry(keys.SendKey(campaign.campaign_id, person, occurrence), run.run_at, now))
        return entries

    async def _after(self, conn: Connection, campaign: cpb.Campaign, run: Run, now: datetime) -> None:
        broadcast = campaign.entry.broadcast
        if broadcast.HasField("every"):
            upcoming = run.run_at + broadcast.every.ToTimedelta()
            ended = campaign.HasField("end_time") and campaign.end_time.ToDatetime(tzinfo=now.tzinfo) <= upcoming
            if not run.widening and not ended:
                await plan(conn, campaign.campaign_id, run_at=upcoming, stage=campaign.rollout_stage, now=now)
            return
        await jobs.set_due(conn, queue=queues.COMPLETE, key=campaign.campaign_id, due_at=now)


def _audience(campaign: cpb.Campaign) -> str:
    return campaign.audience.segment_id or campaign.audience.owned_segment_id


async def _run(conn: Connection, campaign_id: str, run_at: datetime, stage: int) -> Run | None:
    row = await conn.fetchrow(
        "SELECT campaign_id, run_at, stage, widening, created_at, after_person FROM broadcast_runs "
        "WHERE campaign_id = $1 AND run_at = $2 AND stage = $3 AND NOT done FOR UPDATE",
        campaign_id, run_at, stage,
    )  # fmt: skip
    return Run(**dict(row)) if row else None


async def _page(conn: Connection, campaign: cpb.Campaign, segment: str, *, after: str, limit: int) -> list[str]:
    """Members after `after` in person order, less those in an excluded segment."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT m.person_id FROM segment_members m WHERE m.segment_id = $1 AND m.person_id > $2 "
        "AND NOT EXISTS (SELECT 1 FROM segment_members x WHERE x.person_id = m.person_id "
        "AND x.segment_id = ANY($3::text[])) ORDER BY m.person_id LIMIT $4",
        segment, after, list(campaign.audience.exclude_segment_ids), limit,
    )  # fmt: skip
    return [row["person_id"] for row in rows]
