"""Who enters which campaign because of an event (live records only: a replay enters nobody).

An event trigger enters the person at once, the occurrence being the event; "after an event"
starts, restarts or cancels a durable wait (domain/journeys.py). Only events that happened
after the campaign was launched count: a late event from before it is history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform.store.pool import Connection

from bullseye_campaign.delivery import waits
from bullseye_campaign.delivery.entries import Entry, enter
from bullseye_campaign.domain import events, journeys
from bullseye_campaign.domain.keys import SendKey
from bullseye_campaign.domain.rendering import trigger_fields

Owned = Sequence[tuple[str, ev.Event]]


def at(event: ev.Event) -> datetime:
    return event.occurred_at.ToDatetime(tzinfo=UTC)


def launched_at(campaign: cpb.Campaign) -> datetime:
    return campaign.launched_at.ToDatetime(tzinfo=UTC)


def _trigger(event: ev.Event) -> dict[str, object]:
    return trigger_fields(getattr(event, event.WhichOneof("payload") or ""))


async def enter_on_events(
    conn: Connection, owned: Owned, live: Sequence[cpb.Campaign], *, now: Callable[[], datetime]
) -> None:
    entries: list[Entry] = []
    for campaign in live:
        kind = campaign.entry.WhichOneof("kind")
        fresh = [(o, e) for o, e in owned if at(e) >= launched_at(campaign)]
        if kind == "event":
            for owner, event in fresh:
                if events.matches(campaign.entry.event.event, event):
                    key = SendKey(campaign.campaign_id, owner, event.event_id)
                    entries.append(Entry(key, at(event), now(), _trigger(event)))
        elif kind == "after_event":
            for owner, event in fresh:
                await _wait(conn, campaign, owner, event)
    await enter(conn, entries)


async def _wait(conn: Connection, campaign: cpb.Campaign, owner: str, event: ev.Event) -> None:
    rule = campaign.entry.after_event
    change = journeys.on_event(rule, event, at(event))
    if change.cancel is not None:
        await waits.cancel(conn, campaign.campaign_id, owner, change.cancel)
    if change.start is not None:
        # A plain delay ("24 h after each purchase") waits once per starting event.
        waiting_on = change.start[0] if rule.HasField("unless") else f"event={event.event_id}"
        entry = Entry(SendKey(campaign.campaign_id, owner, event.event_id), at(event), change.start[1], _trigger(event))
        await waits.start(conn, waiting_on, entry)
