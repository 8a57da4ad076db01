"""What persons' events mean for the campaigns they are in: interactions with messages, exits,
conversions credited to messages, and returns (retention). State only: applied live and when a
rebuild replays, with the same result.

- `message_interacted` events (and events that came through a message's link, with
  `Attribution.message_id`) mark the message delivered, opened or clicked, first time kept.
- An exit event, or the goal when the campaign exits on conversion, records the person's exit
  (a send for a trigger before it is not made).
- A goal event of a participant is credited by last touch within the attribution window
  (domain/attribution.py): their messages, their clicks, and their entry (the control's
  only touch, which is what makes arms comparable); an event that names one of the person's
  messages of that campaign is credited to it when within the window.
- Any activity after entering (not a message interaction) is a return.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import records_pb2 as rpb
from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform.store.pool import Connection

from bullseye_campaign.adapters.store import pairs as pairs_of
from bullseye_campaign.domain import attribution, events, journeys

Interaction = ev.MessageInteraction
_COLUMN = {
    Interaction.MESSAGE_INTERACTION_DELIVERED: "delivered_at",
    Interaction.MESSAGE_INTERACTION_OPENED: "opened_at",
    Interaction.MESSAGE_INTERACTION_CLICKED: "clicked_at",
}
# A receipt moves a message handed over (SENT) to DELIVERED.
_RECEIPT = f", status = CASE WHEN d.status = {rpb.DELIVERY_STATUS_SENT} THEN {rpb.DELIVERY_STATUS_DELIVERED} " \
           "ELSE d.status END"  # fmt: skip
Owned = Sequence[tuple[str, ev.Event]]


def at(event: ev.Event) -> datetime:
    return event.occurred_at.ToDatetime(tzinfo=UTC)


async def apply(conn: Connection, owned: Owned, measured: Sequence[cpb.Campaign], live: Sequence[cpb.Campaign]) -> None:
    await _interactions(conn, owned)
    await _exits(conn, owned, live)
    await _conversions(conn, owned, measured)
    await _returns(conn, owned)


async def _interactions(conn: Connection, owned: Owned) -> None:
    marks: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for _, event in owned:
        if event.WhichOneof("payload") == "message_interacted":
            column = _COLUMN.get(event.message_interacted.interaction)
            if column:
                marks[column].append((event.message_interacted.message_id, at(event)))
        elif event.context.attribution.message_id:  # came through the message's link
            marks["clicked_at"].append((event.context.attribution.message_id, at(event)))
    for column, found in marks.items():
        delivered = _RECEIPT if column == "delivered_at" else ""
        await conn.execute(
            f"UPDATE deliveries d SET {column} = least(coalesce(d.{column}, m.t), m.t){delivered} "
            "FROM (SELECT id, min(t) AS t FROM unnest($1::text[], $2::timestamptz[]) AS u(id, t) GROUP BY id) m "
            "WHERE d.message_id = m.id",
            [f[0] for f in found], [f[1] for f in found],
        )  # fmt: skip


async def _exits(conn: Connection, owned: Owned, live: Sequence[cpb.Campaign]) -> None:
    rows = []
    for campaign in live:
        for owner, event in owned:
            if journeys.is_exit_event(campaign.exit, event):
                rows.append((campaign.campaign_id, owner, at(event), "exit event", event.event_id))
            elif campaign.exit.on_conversion and events.matches(campaign.goal.event, event):
                rows.append((campaign.campaign_id, owner, at(event), "converted", event.event_id))
    if rows:
        await conn.execute(
            "INSERT INTO exits (campaign_id, person_id, exited_at, reason, event_id) "
            "SELECT DISTINCT ON (c, p) c, p, t, r, e FROM unnest($1::text[], $2::text[], $3::timestamptz[], "
            "$4::text[], $5::text[]) AS u(c, p, t, r, e) ORDER BY c, p, t DESC "
            "ON CONFLICT (campaign_id, person_id) DO UPDATE SET exited_at = EXCLUDED.exited_at, "
            "reason = EXCLUDED.reason, event_id = EXCLUDED.event_id WHERE exits.exited_at < EXCLUDED.exited_at",
            *[list(c) for c in zip(*rows, strict=True)],
        )  # fmt: skip


async def _conversions(conn: Connection, owned: Owned, measured: Sequence[cpb.Campaign]) -> None:
    goals = [(c, owner, e) for c in measured for owner, e in owned if c.goal.HasField("event")
             and events.matches(c.goal.event, e)]  # fmt: skip
    if not goals:
        return
    touches = await _touches(conn, sorted({(c.campaign_id, owner) for c, owner, _ in goals}))
    rows = []
    for campaign, owner, event in goals:
        found = touches.get((campaign.campaign_id, owner))
        credited = _credited(campaign.goal, found, event) if found else None
        if credited is not None:
            revenue, currency = _revenue(event)
            rows.append((campaign.campaign_id, event.event_id, owner, at(event), revenue, currency, credited))
    if rows:
        await conn.execute(
            "INSERT INTO conversions (campaign_id, event_id, person_id, occurred_at, revenue, currency, message_id) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::float8[], $6::text[], "
            "$7::text[]) ON CONFLICT DO NOTHING",
            *[list(c) for c in zip(*rows, strict=True)],
        )  # fmt: skip


def _credited(goal: cpb.ConversionGoal, touches: list[attribution.Touch], event: ev.Event) -> str | None:
    named = event.context.attribution.message_id
    mine = [t for t in touches if t.message_id == named] if named else []
    return attribution.attribute(goal, mine or touches, at(event))


async def _touches(conn: Connection, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], list[attribution.Touch]]:
    """(campaign, person) -> their entry (message id '') and messages sent, with clicks."""
    touches: dict[tuple[str, str], list[attribution.Touch]] = defaultdict(list)
    entries = f"SELECT p.campaign_id, p.person_id, p.entered_at FROM participants p {pairs_of.joined('p')}"
    for r in await pairs_of.fetch(conn, entries, pairs):
        touches[(r["campaign_id"], r["person_id"])].append(attribution.Touch("", r["entered_at"]))
    sent = (
        "SELECT d.campaign_id, d.person_id, d.message_id, d.sent_at, d.clicked_at FROM deliveries d "
        f"{pairs_of.joined('d')} WHERE d.sent_at IS NOT NULL"
    )
    for r in await pairs_of.fetch(conn, sent, pairs):
        pair = (r["campaign_id"], r["person_id"])
        if pair in touches:  # a participant's
            clicks = (r["clicked_at"],) if r["clicked_at"] else ()
            touches[pair].append(attribution.Touch(r["message_id"], r["sent_at"], clicks))
    return dict(touches)


def _revenue(event: ev.Event) -> tuple[float, str]:
    """The payload's `revenue` (an order's total), else nothing."""
    payload = getattr(event, event.WhichOneof("payload") or "")
    if "revenue" in payload.DESCRIPTOR.fields_by_name and payload.HasField("revenue"):
        return payload.revenue.units + payload.revenue.nanos / 1e9, payload.revenue.currency_code
    return 0.0, ""


async def _returns(conn: Connection, owned: Owned) -> None:
    active = [(owner, at(e)) for owner, e in owned if e.WhichOneof("payload") != "message_interacted"]
    if not active:
        return
    await conn.execute(
        "UPDATE participants p SET returned_at = x.t FROM (SELECT q.campaign_id, q.person_id, min(e.t) AS t "
        "FROM participants q JOIN unnest($1::text[], $2::timestamptz[]) AS e(p, t) ON q.person_id = e.p "
        "AND e.t > q.entered_at WHERE q.returned_at IS NULL GROUP BY q.campaign_id, q.person_id) x "
        "WHERE p.campaign_id = x.campaign_id AND p.person_id = x.person_id",
        [a[0] for a in active], [a[1] for a in active],
    )  # fmt: skip
