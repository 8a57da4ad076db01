"""Messages to their channels (the HANDOFF queue): render once, hand over, record what happened.

The delivery is SENDING (recorded with the decision) before its first handoff. In the claim's
transaction: contacts are asked again (never stored), the message is rendered the first time
and kept (a retry hands over the same message), the channel adapters hand over the batch, and
each outcome is recorded with its fact: sent (`message.sent`), or failed (`message.failed`) and
retried after a growing delay, or dead-lettered when permanent or out of attempts. A crash
after the channel took a message and before the commit hands it over again under the same
idempotency key. A send rate per channel holds the excess back, never drops it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import facts_pb2 as fpb
from bullseye.campaign.v1 import records_pb2 as rpb
from bullseye_platform.eventlog import LogMessage
from bullseye_platform.jobs import Backoff, Job
from bullseye_platform.store.pool import Connection

from bullseye_campaign.adapters.channels import Channels, Handoff, HandoffOutcome, Outgoing
from bullseye_campaign.adapters.facts import Facts, timestamp
from bullseye_campaign.adapters.identity_client import ADDRESSED, Contacts, IdentityClient
from bullseye_campaign.adapters.store import campaigns
from bullseye_campaign.delivery.instruments import DeliveryInstruments
from bullseye_campaign.delivery.personalize import Personalizer, Wanted
from bullseye_campaign.delivery.rates import SendRates
from bullseye_campaign.domain.report import money

Again = dict[str, datetime | None]
PENDING = (rpb.DELIVERY_STATUS_SENDING, rpb.DELIVERY_STATUS_RETRYING)


@dataclass(frozen=True)
class Pending:
    """A delivery waiting for its handoff."""

    message_id: str
    campaign_id: str
    campaign_version: int
    person_id: str
    step: str
    occurrence_id: str
    arm: str
    channel: int
    attempts: int
    cost: float
    rendered: apb.RenderedMessage | None
    trigger: dict[str, object]


class Handoffs:
    def __init__(
        self, *, identity: IdentityClient, personalizer: Personalizer, channels: Channels, facts: Facts,
        clock: Callable[[], datetime], attempts: int, backoff: Backoff, instruments: DeliveryInstruments,
    ) -> None:  # fmt: skip
        self._identity, self._personalizer, self._channels, self._facts = identity, personalizer, channels, facts
        self._clock, self._attempts, self._backoff, self._instruments = clock, attempts, backoff, instruments
        self._rates = SendRates()

    async def hand_off_batch(self, conn: Connection, claimed: Sequence[Job]) -> Again:
        now = self._clock()
        pending = await _pending(conn, claimed)
        again: Again = {job.key: None for job in claimed}  # not pending any more: done
        stored = await campaigns.many(conn, [p.campaign_id for p in pending])
        ready, held = self._within_rates(pending, stored, now)
        again.update(held)
        if not ready:
            return again
        addressed = any(p.channel in ADDRESSED or (p.campaign_id in stored and self._personalizer.reads_traits(
            stored[p.campaign_id].campaign, p.arm, p.channel)) for p in ready)  # fmt: skip
        contacts = await self._identity.contacts([p.person_id for p in ready], addresses=addressed)
        rendered, fresh = await self._render(ready, stored, contacts)
        started = time.perf_counter()
        outgoing = [_outgoing(p, rendered[p.message_id], contacts) for p in ready]
        results = {o.message_id: h for o in outgoing if (h := _undeliverable(o)) is not None}
        results.update(await self._channels.hand_off([o for o in outgoing if o.message_id not in results]))
        for channel in {p.channel for p in ready}:
            self._instruments.took(channel, time.perf_counter() - started)
        currencies = {cid: next((c.cost.currency_code for c in s.campaign.costs), "") for cid, s in stored.items()}
        again.update(await self._record(conn, ready, results, fresh, now, currencies))
        return again

    def _within_rates(
        self, pending: list[Pending], stored: dict[str, campaigns.Stored], now: datetime
    ) -> tuple[list[Pending], Again]:
        ready: list[Pending] = []
        held: Again = {}
        for (campaign_id, channel), group in _grouped(pending).items():
            found = stored.get(campaign_id)
            rate = _rate(found.campaign, channel) if found else 0
            allowed = self._rates.take(campaign_id, channel, rate, len(group), now)
            ready.extend(group[:allowed])
            for behind, late in enumerate(group[allowed:], start=1):
                held[late.message_id] = now + self._rates.wait(rate, behind)
        return ready, held

    async def _render(
        self, ready: list[Pending], stored: dict[str, campaigns.Stored], contacts: dict[str, Contacts]
    ) -> tuple[dict[str, apb.RenderedMessage], dict[str, apb.RenderedMessage]]:
        """Every ready message as it is handed over, and those rendered now (kept by `_record`)."""
        rendered = {p.message_id: p.rendered for p in ready if p.rendered is not None}
        wanted = [Wanted(p.message_id, p.person_id, stored[p.campaign_id].campaign, p.arm, p.channel, p.trigger)
                  for p in ready if p.rendered is None and p.campaign_id in stored]  # fmt: skip
        fresh = await self._personalizer.render_many(wanted, contacts)
        rendered.update(fresh)
        return {p.message_id: rendered.get(p.message_id) or _unrenderable(p) for p in ready}, fresh

    async def _record(
        self, conn: Connection, ready: list[Pending], results: dict[str, Handoff],
        fresh: dict[str, apb.RenderedMessage], now: datetime, currencies: dict[str, str],
    ) -> Again:  # fmt: skip
        """Each outcome, and each message rendered this time (in the same UPDATE, the same
        transaction as the handoff's record: a retry hands over what this one rendered)."""
        again: Again = {}
        rows, facts = [], []
        for p in ready:
            result, attempts = results[p.message_id], p.attempts + 1
            status, retry_at = self._after(result, attempts, now)
            again[p.message_id] = retry_at
            message = fresh.get(p.message_id)
            rows.append((p.message_id, status, attempts, result.error, retry_at,
                         message.SerializeToString() if message is not None else None))  # fmt: skip
            facts.append(self._fact(p, result, status, attempts, now, currencies.get(p.campaign_id, "")))
            self._instruments.handed_off(p.channel, status, 1)
        await conn.execute(
            "UPDATE deliveries d SET status = u.status, attempts = u.attempts, last_error = u.error, "
            "next_attempt_at = u.retry_at, sent_at = CASE WHEN u.status = $7 THEN $8 ELSE d.sent_at END, "
            "rendered = coalesce(u.rendered, d.rendered) "
            "FROM unnest($1::text[], $2::smallint[], $3::integer[], $4::text[], $5::timestamptz[], $6::bytea[]) "
            "AS u(id, status, attempts, error, retry_at, rendered) WHERE d.message_id = u.id",
            *[list(c) for c in zip(*rows, strict=True)], rpb.DELIVERY_STATUS_SENT, now,
        )  # fmt: skip
        await self._facts.emit(conn, facts)
        return again

    def _after(self, result: Handoff, attempts: int, now: datetime) -> tuple[int, datetime | None]:
        if result.outcome is HandoffOutcome.SENT:
            return rpb.DELIVERY_STATUS_SENT, None
        if result.outcome is HandoffOutcome.PERMANENT or attempts >= self._attempts:
            return rpb.DELIVERY_STATUS_DEAD_LETTERED, None
        return rpb.DELIVERY_STATUS_RETRYING, now + timedelta(seconds=self._backoff.delay(attempts))

    def _fact(
        self, p: Pending, result: Handoff, status: int, attempts: int, now: datetime, currency: str
    ) -> LogMessage:
        if status == rpb.DELIVERY_STATUS_SENT:
            sent = fpb.MessageSent(
                message_id=p.message_id, campaign_id=p.campaign_id, campaign_version=p.campaign_version,
                person_id=p.person_id, step=p.step, occurrence_id=p.occurrence_id, arm=p.arm,
                channel=p.channel,  # type: ignore[arg-type]
                sent_at=timestamp(now), cost=money(p.cost, currency),
            )  # fmt: skip
            record = fpb.CampaignRecord(message_sent=sent)
            return self._facts.message(record, person_id=p.person_id, msg_id=f"sent:{p.message_id}")
        failed = fpb.MessageFailed(
            message_id=p.message_id, campaign_id=p.campaign_id, person_id=p.person_id, channel=p.channel,  # type: ignore[arg-type]
            error=result.error, permanent=status == rpb.DELIVERY_STATUS_DEAD_LETTERED, attempts=attempts,
            failed_at=timestamp(now),
        )  # fmt: skip
        return self._facts.message(fpb.CampaignRecord(message_failed=failed), person_id=p.person_id,
                                   msg_id=f"failed:{p.message_id}:{attempts}")  # fmt: skip


async def _pending(conn: Connection, claimed: Sequence[Job]) -> list[Pending]:
    triggers = {job.key: json.loads(job.payload).get("g", {}) if job.payload else {} for job in claimed}
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT message_id, campaign_id, campaign_version, person_id, step, occurrence_id, arm, channel, attempts, "
        "cost, rendered FROM deliveries "
        "WHERE message_id = ANY($1::text[]) AND status = ANY($2::smallint[]) ORDER BY message_id",
        list(triggers), list(PENDING),
    )  # fmt: skip
    return [_pending_row(r, triggers[r["message_id"]]) for r in rows]


def _pending_row(r: asyncpg.Record, trigger: dict[str, object]) -> Pending:
    rendered = apb.RenderedMessage.FromString(bytes(r["rendered"])) if r["rendered"] else None
    return Pending(
        r["message_id"], r["campaign_id"], r["campaign_version"], r["person_id"], r["step"], r["occurrence_id"],
        r["arm"], r["channel"], r["attempts"], r["cost"], rendered, trigger,
    )  # fmt: skip


def _grouped(pending: list[Pending]) -> dict[tuple[str, int], list[Pending]]:
    groups: dict[tuple[str, int], list[Pending]] = {}
    for p in pending:
        groups.setdefault((p.campaign_id, p.channel), []).append(p)
    return groups


def _rate(campaign: cpb.Campaign, channel: int) -> int:
    return next((r.per_second for r in campaign.limits.send_rates if r.channel == channel), 0)


def _unrenderable(p: Pending) -> apb.RenderedMessage:
    return apb.RenderedMessage(channel=p.channel, error="its campaign is gone")  # type: ignore[arg-type]


def _undeliverable(o: Outgoing) -> Handoff | None:
    """A message that cannot go anywhere: it did not render, or the person has no address now."""
    if o.message.error:
        return Handoff(o.message_id, HandoffOutcome.PERMANENT, f"the message did not render: {o.message.error}")
    if o.channel in (cpb.CHANNEL_EMAIL, cpb.CHANNEL_SMS) and not o.address:
        return Handoff(o.message_id, HandoffOutcome.PERMANENT, "no deliverable address at handoff")
    if o.channel in (cpb.CHANNEL_PUSH, cpb.CHANNEL_IN_APP) and not o.device_ids:
        return Handoff(o.message_id, HandoffOutcome.PERMANENT, "no app device at handoff")
    return None


def _outgoing(p: Pending, message: apb.RenderedMessage, contacts: dict[str, Contacts]) -> Outgoing:
    found = contacts.get(p.person_id) or Contacts()
    address = found.email if p.channel == cpb.CHANNEL_EMAIL else found.phone if p.channel == cpb.CHANNEL_SMS else ""
    return Outgoing(p.message_id, p.campaign_id, p.person_id, p.channel, message, address, found.device_ids)
