"""What one send batch decided, written at once: decisions, arms, messages, handoff jobs and facts.

A sent decision records its messages SENDING with their idempotency keys (the caps count them
from this commit on) and schedules their handoff: nothing reaches a channel before the record
does. A suppressed one records why, and a `message.suppressed` fact; a held one records the
hold and moves its job to the end of quiet hours.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import facts_pb2 as fpb
from bullseye.campaign.v1 import records_pb2 as rpb
from bullseye_platform import jobs
from bullseye_platform.eventlog import LogMessage
from bullseye_platform.store.pool import Connection
from google.protobuf.timestamp_pb2 import Timestamp

from bullseye_campaign.adapters.facts import Facts, timestamp
from bullseye_campaign.adapters.store.records import Participant
from bullseye_campaign.control import queues
from bullseye_campaign.delivery.situation import room
from bullseye_campaign.delivery.snapshot import Snapshot
from bullseye_campaign.domain.caps import Send
from bullseye_campaign.domain.decision import Verdict
from bullseye_campaign.domain.keys import SendKey

# Suppressed after the arm was assigned: the person is in the experiment (intent-to-treat).
ASSIGNED = frozenset({rpb.DECISION_REASON_HOLDOUT, rpb.DECISION_REASON_NO_CONSENT,
                      rpb.DECISION_REASON_NO_CONTACT, rpb.DECISION_REASON_CAPPED})  # fmt: skip


def cost_of(campaign: cpb.Campaign, channel: int) -> float:
    for cost in campaign.costs:
        if cost.channel == channel:
            return float(cost.cost.units + cost.cost.nanos / 1e9)
    return 0.0


@dataclass
class Book:
    """The writes of one batch, accumulated decision by decision."""

    facts: Facts
    now: datetime
    decided_at: Timestamp = field(init=False)  # `now` once for the batch's records
    decisions: list[tuple[SendKey, int, bytes]] = field(default_factory=list)
    participants: dict[tuple[str, str], str] = field(default_factory=dict)
    deliveries: list[tuple[object, ...]] = field(default_factory=list)
    handoffs: list[tuple[str, datetime, bytes]] = field(default_factory=list)
    messages: list[LogMessage] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.decided_at = timestamp(self.now)

    def add(
        self, campaign: cpb.Campaign, key: SendKey, verdict: Verdict, *, arm: str, trigger: Mapping[str, object],
        snapshot: Snapshot,
    ) -> datetime | None:  # fmt: skip
        """Record one verdict; returns when its job runs again (a hold), or None (decided)."""
        decision = rpb.Decision(
            campaign_id=key.campaign_id, campaign_version=campaign.version, person_id=key.person_id, step=key.step,
            occurrence_id=key.occurrence_id, outcome=verdict.outcome, reason=verdict.reason,  # type: ignore[arg-type]
            detail=verdict.detail, arm=arm, decided_at=self.decided_at, checks=verdict.checks,
        )  # fmt: skip
        if verdict.outcome == rpb.DECISION_OUTCOME_HELD:
            assert verdict.held_until is not None
            decision.held_until.CopyFrom(timestamp(verdict.held_until))
            self.decisions.append((key, verdict.outcome, decision.SerializeToString()))
            return verdict.held_until
        if verdict.outcome == rpb.DECISION_OUTCOME_SENT:
            self._sent(campaign, key, verdict, decision, trigger, snapshot)
        else:
            self._suppressed(key, verdict, decision)
        if verdict.outcome == rpb.DECISION_OUTCOME_SENT or verdict.reason in ASSIGNED:
            pair = (key.campaign_id, key.person_id)
            self.participants[pair] = arm
            known = snapshot.participants.get(pair)  # the next send of this batch sees this entry
            snapshot.participants[pair] = Participant(arm, known.entered_at if known else self.now, self.now)
        self.decisions.append((key, verdict.outcome, decision.SerializeToString()))
        return None

    def _sent(
        self, campaign: cpb.Campaign, key: SendKey, verdict: Verdict, decision: rpb.Decision,
        trigger: Mapping[str, object], snapshot: Snapshot,
    ) -> None:  # fmt: skip
        chosen: list[int] = []
        for channel in verdict.channels:  # ALL_REACHABLE: each must still fit after the ones before it
            if chosen and not room(campaign, key.person_id, channel, snapshot):
                continue
            snapshot.reserve(key.person_id, Send(key.campaign_id, channel, self.now))
            chosen.append(channel)
        payload = json.dumps({"g": dict(trigger)}).encode()
        message_ids = [key.message_id(channel) for channel in chosen]
        for channel, message_id in zip(chosen, message_ids, strict=True):
            self.deliveries.append((message_id, key.campaign_id, campaign.version, key.person_id, key.step,
                                    key.occurrence_id, decision.arm, channel, cost_of(campaign, channel)))  # fmt: skip
            self.handoffs.append((message_id, self.now, payload))
        decision.channel, decision.message_id = chosen[0], message_ids[0]  # type: ignore[assignment]

    def _suppressed(self, key: SendKey, verdict: Verdict, decision: rpb.Decision) -> None:
        fact = fpb.MessageSuppressed(
            campaign_id=key.campaign_id, campaign_version=decision.campaign_version, person_id=key.person_id,
            step=key.step, occurrence_id=key.occurrence_id, arm=decision.arm, reason=verdict.reason,  # type: ignore[arg-type]
            detail=verdict.detail, decided_at=decision.decided_at,
        )  # fmt: skip
        record = fpb.CampaignRecord(message_suppressed=fact)
        self.messages.append(self.facts.message(record, person_id=key.person_id, msg_id=f"suppressed:{key.job_key()}"))

    async def write(self, conn: Connection) -> None:
        await _decisions(conn, self.decisions, self.now)
        await _participants(conn, self.participants, self.now)
        await _deliveries(conn, self.deliveries, self.now)
        await jobs.schedule_many(conn, queue=queues.HANDOFF, scheduled=self.handoffs)
        await self.facts.emit(conn, self.messages)


async def _decisions(conn: Connection, decided: list[tuple[SendKey, int, bytes]], now: datetime) -> None:
    if not decided:
        return
    await conn.execute(
        "INSERT INTO decisions (campaign_id, person_id, step, occurrence_id, outcome, decided_at, record) "
        "SELECT c, p, s, o, x, $7, r FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::smallint[], "
        "$6::bytea[]) AS d(c, p, s, o, x, r) "
        "ON CONFLICT (campaign_id, step, person_id, occurrence_id, (outcome = 3)) DO NOTHING",
        [k.campaign_id for k, _, _ in decided], [k.person_id for k, _, _ in decided], [k.step for k, _, _ in decided],
        [k.occurrence_id for k, _, _ in decided], [o for _, o, _ in decided], [r for _, _, r in decided], now,
    )  # fmt: skip


async def _participants(conn: Connection, arms: dict[tuple[str, str], str], now: datetime) -> None:
    """A first entry assigns the arm for life; a later one counts (the arm stays)."""
    if not arms:
        return
    await conn.execute(
        "INSERT INTO participants (campaign_id, person_id, arm, entered_at, last_entered_at) "
        "SELECT c, p, a, $4, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(c, p, a) "
        "ON CONFLICT (campaign_id, person_id) DO UPDATE SET last_entered_at = EXCLUDED.last_entered_at, "
        "entries = participants.entries + 1",
        [k[0] for k in arms], [k[1] for k in arms], list(arms.values()), now,
    )  # fmt: skip


async def _deliveries(conn: Connection, rows: list[tuple[object, ...]], now: datetime) -> None:
    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    await conn.execute(
        "INSERT INTO deliveries (message_id, campaign_id, campaign_version, person_id, step, occurrence_id, arm, "
        "channel, cost, status, created_at) SELECT *, $10::smallint, $11::timestamptz FROM unnest($1::text[], "
        "$2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::smallint[], $9::float8[]) "
        "ON CONFLICT (message_id) DO NOTHING",
        *[list(c) for c in columns], rpb.DELIVERY_STATUS_SENDING, now,
    )  # fmt: skip
