"""Reading what was recorded, newest first: a person's or a campaign's deliveries, a person's decisions."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from bullseye.campaign.v1 import records_pb2 as rpb
from bullseye_platform.store.pool import Connection

_COLUMNS = (
    "message_id, campaign_id, campaign_version, person_id, step, occurrence_id, arm, channel, status, attempts, "
    "last_error, created_at, sent_at, delivered_at, opened_at, clicked_at, next_attempt_at"
)
_TIMES = ("created_at", "sent_at", "delivered_at", "opened_at", "clicked_at", "next_attempt_at")


def delivery(row: asyncpg.Record) -> rpb.Delivery:
    found = rpb.Delivery(**{key: value for key, value in row.items() if key not in _TIMES})
    for name in _TIMES:
        if row[name] is not None:
            getattr(found, name).FromDatetime(row[name])
    return found


async def page(
    conn: Connection, *, after: tuple[datetime, str] | None, limit: int, campaign_id: str = "", person_id: str = ""
) -> list[rpb.Delivery]:
    """One page of the campaign's (or the person's) deliveries, newest first, after `after`."""
    column, value = ("campaign_id", campaign_id) if campaign_id else ("person_id", person_id)
    since = "AND (created_at, message_id) < ($3, $4) " if after else ""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM deliveries WHERE {column} = $1 {since}"
        "ORDER BY created_at DESC, message_id DESC LIMIT $2",
        value, limit, *(after or ()),
    )  # fmt: skip
    return [delivery(row) for row in rows]


async def decisions(conn: Connection, campaign_id: str, person_id: str, *, limit: int) -> list[rpb.Decision]:
    rows = await conn.fetch(
        "SELECT record FROM decisions WHERE campaign_id = $1 AND person_id = $2 ORDER BY id DESC LIMIT $3",
        campaign_id, person_id, limit,
    )  # fmt: skip
    return [rpb.Decision.FromString(bytes(row["record"])) for row in rows]
