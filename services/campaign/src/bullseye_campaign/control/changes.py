"""A campaign's state and stage changes, with everything that follows from each, in one transaction.

Operators (the lifecycle RPCs), the clock (start and end timers, a one-off broadcast that is
done) and guardrails all change campaigns through here: the row is saved, a
`campaign.state_changed` fact is queued, and the timers and jobs of the new state are
scheduled or dropped, together or not at all.
"""

from __future__ import annotations

from datetime import datetime

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import facts_pb2 as fpb
from bullseye_platform import jobs
from bullseye_platform.store.pool import Connection

from bullseye_campaign.adapters.facts import Facts, timestamp
from bullseye_campaign.adapters.store import campaigns as store
from bullseye_campaign.adapters.store.campaigns import Stored
from bullseye_campaign.control import queues
from bullseye_campaign.delivery import broadcasts
from bullseye_campaign.domain import keys
from bullseye_campaign.domain.lifecycle import Command, next_stage, transition

S = cpb.CampaignState
FINAL = (S.CAMPAIGN_STATE_COMPLETED, S.CAMPAIGN_STATE_CANCELLED)
_TIMERS = (queues.START, queues.END, queues.COMPLETE, queues.GUARDRAILS)


class Control:
    """Applies lifecycle commands and rollout stages to stored campaigns (the caller locked the row)."""

    def __init__(self, *, facts: Facts) -> None:
        self._facts = facts

    async def command(
        self, conn: Connection, stored: Stored, command: Command, *, now: datetime, actor: str, reason: str = "",
    ) -> bool:  # fmt: skip
        """Apply `command`; returns whether anything changed (a repeat changes nothing).

        Raises:
            FailedPrecondition: the command is not allowed in the campaign's state.
        """
        campaign = stored.campaign
        scheduled = campaign.HasField("start_time") and campaign.start_time.ToDatetime().timestamp() > now.timestamp()
        moved = transition(campaign.state, command, scheduled=scheduled)
        if not moved.changed:
            return False
        before = campaign.state
        campaign.state = moved.target  # type: ignore[assignment]
        if command is Command.RESUME and stored.tripped:  # the operator accepted what the guardrail saw
            stored.tripped, stored.muted_stage = False, campaign.rollout_stage
        if command is Command.LAUNCH:
            campaign.launched_at.CopyFrom(timestamp(now))
        await self.record(conn, stored, before=before, now=now, actor=actor, reason=reason)
        await self._entered(conn, stored, before, now)
        return True

    async def advance(
        self, conn: Connection, stored: Stored, *, expected_stage: int, now: datetime, actor: str
    ) -> bool:
        """Move the rollout to its next stage; returns whether it moved (a retry does not).

        Raises:
            FailedPrecondition: no rollout, not running or paused, a stale stage, or at 100%.
        """
        campaign = stored.campaign
        moved = next_stage(campaign, expected_stage=expected_stage)
        if not moved.changed:
            return False
        campaign.rollout_stage = moved.target
        stored.stage_started_at = now
        percent = campaign.rollout.stage_percents[moved.target]
        await self.record(conn, stored, before=campaign.state, now=now, actor=actor, reason=f"rollout to {percent}%")
        if campaign.entry.WhichOneof("kind") == "broadcast":
            await broadcasts.widen(conn, stored.campaign_id, stage=moved.target, now=now)
        return True

    async def record(
        self, conn: Connection, stored: Stored, *, before: int, now: datetime, actor: str, reason: str,
    ) -> None:  # fmt: skip
        """Save the campaign and queue its campaign.state_changed fact (a state or a stage change)."""
        campaign = stored.campaign
        stored.changes += 1
        campaign.updated_at.CopyFrom(timestamp(now))
        if campaign.state == S.CAMPAIGN_STATE_RUNNING and stored.stage_started_at is None:
            stored.stage_started_at = now
        await store.save(conn, stored)
        fact = fpb.CampaignStateChanged(
            campaign_id=campaign.campaign_id, campaign_version=campaign.version, from_state=before,  # type: ignore[arg-type]
            to_state=campaign.state, rollout_stage=campaign.rollout_stage, actor=actor, reason=reason[:500],
            changed_at=timestamp(now),
        )  # fmt: skip
        msg_id = f"state:{campaign.campaign_id}:{stored.changes}"
        record = fpb.CampaignRecord(state_changed=fact)
        await self._facts.emit(conn, [self._facts.campaign(record, campaign_id=campaign.campaign_id, msg_id=msg_id)])

    async def _entered(self, conn: Connection, stored: Stored, before: int, now: datetime) -> None:
        campaign, key = stored.campaign, stored.campaign_id
        if campaign.state == S.CAMPAIGN_STATE_SCHEDULED:
            await jobs.set_due(
                conn, queue=queues.START, key=key, due_at=campaign.start_time.ToDatetime(tzinfo=now.tzinfo)
            )
        elif campaign.state == S.CAMPAIGN_STATE_RUNNING and before == S.CAMPAIGN_STATE_PAUSED:
            await wake_sends(conn, key, now)
        elif campaign.state == S.CAMPAIGN_STATE_RUNNING:
            await self._started(conn, stored, now)
        elif campaign.state in FINAL:
            await _ended(conn, stored, now)

    async def _started(self, conn: Connection, stored: Stored, now: datetime) -> None:
        campaign, key = stored.campaign, stored.campaign_id
        if campaign.HasField("end_time"):
            await jobs.set_due(conn, queue=queues.END, key=key, due_at=campaign.end_time.ToDatetime(tzinfo=now.tzinfo))
        if campaign.HasField("rollout"):
            await jobs.set_due(conn, queue=queues.GUARDRAILS, key=key, due_at=now)
        if campaign.entry.WhichOneof("kind") == "broadcast":
            send_at = campaign.entry.broadcast.send_at
            first = send_at.ToDatetime(tzinfo=now.tzinfo) if campaign.entry.broadcast.HasField("send_at") else now
            await broadcasts.plan(conn, key, run_at=max(first, now), stage=campaign.rollout_stage, now=now)


async def wake_sends(conn: Connection, campaign_id: str, now: datetime) -> None:
    """Sends a pause held (they look again every CAMPAIGN_PAUSED_RECHECK) are due now."""
    await conn.execute(
        "UPDATE scheduled_jobs SET due_at = $2 WHERE queue = $3 AND key LIKE $1 AND due_at > $2",
        keys.campaign_jobs(campaign_id), now, queues.SEND,
    )  # fmt: skip


async def _ended(conn: Connection, stored: Stored, now: datetime) -> None:
    """Completed or cancelled: no more entries, timers or broadcasts; its own segment goes.
    Sends already entered are still decided (and recorded as not sent: the campaign is over)."""
    key = stored.campaign_id
    await conn.execute("DELETE FROM scheduled_jobs WHERE queue = ANY($1::text[]) AND key = $2", list(_TIMERS), key)
    await conn.execute("DELETE FROM scheduled_jobs WHERE queue = $1 AND key LIKE $2", queues.WAIT,
                       keys.campaign_jobs(key))  # fmt: skip
    await broadcasts.stop(conn, key)
    owned = stored.campaign.audience.owned_segment_id
    if owned:
        await jobs.set_due(conn, queue=queues.CLEANUP, key=owned, due_at=now)
