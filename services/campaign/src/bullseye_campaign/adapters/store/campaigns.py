"""Campaigns in PostgreSQL: the whole definition as its message, and the columns workers select by.

Lock order, everywhere: a campaign's row before any person's lock (delivery/locks.py). The
lifecycle RPCs take the row FOR UPDATE; a send batch takes its campaigns' rows FOR SHARE, so a
Pause commits after the batches in flight and every batch after it sees the campaign paused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye_platform.store.pool import Connection

S = cpb.CampaignState
LIVE = (S.CAMPAIGN_STATE_RUNNING, S.CAMPAIGN_STATE_PAUSED)  # entering people (sends held while paused)
MEASURED = (*LIVE, S.CAMPAIGN_STATE_COMPLETED, S.CAMPAIGN_STATE_CANCELLED)  # conversions still counted
_COLUMNS = "campaign_id, definition, stage_started_at, tripped, guardrail_muted_stage, changes"


@dataclass
class Stored:
    """A campaign as stored: the message (state, version and stage included) and the bookkeeping."""

    campaign: cpb.Campaign
    stage_started_at: datetime | None = None
    tripped: bool = False  # paused by its guardrail
    muted_stage: int | None = None
    changes: int = 0

    @property
    def campaign_id(self) -> str:
        return self.campaign.campaign_id


def _stored(row: asyncpg.Record) -> Stored:
    campaign = cpb.Campaign.FromString(bytes(row["definition"]))
    return Stored(campaign, row["stage_started_at"], row["tripped"], row["guardrail_muted_stage"], int(row["changes"]))


async def get(conn: Connection, campaign_id: str, *, lock: str = "") -> Stored | None:
    """The campaign, or None; `lock` is "UPDATE" or "SHARE" to lock its row."""
    suffix = f" FOR {lock}" if lock else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM campaigns WHERE campaign_id = $1{suffix}", campaign_id)
    return _stored(row) if row else None


async def many(conn: Connection, campaign_ids: Sequence[str], *, lock: str = "") -> dict[str, Stored]:
    """The campaigns among `campaign_ids`, rows locked in id order when `lock` says so."""
    suffix = f" FOR {lock}" if lock else ""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM campaigns WHERE campaign_id = ANY($1::text[]) ORDER BY campaign_id{suffix}",
        sorted(set(campaign_ids)),
    )
    return {row["campaign_id"]: _stored(row) for row in rows}


async def in_states(conn: Connection, states: Sequence[int]) -> list[Stored]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM campaigns WHERE state = ANY($1::smallint[])", list(states))
    return [_stored(row) for row in rows]


async def insert(conn: Connection, stored: Stored) -> None:
    """Raises asyncpg.UniqueViolationError when the id is taken."""
    c = stored.campaign
    await conn.execute(
        "INSERT INTO campaigns (campaign_id, version, state, definition, rollout_stage, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        c.campaign_id, c.version, c.state, c.SerializeToString(), c.rollout_stage,
        c.created_at.ToDatetime(tzinfo=UTC), c.updated_at.ToDatetime(tzinfo=UTC),
    )  # fmt: skip


async def save(conn: Connection, stored: Stored) -> None:
    c = stored.campaign
    await conn.execute(
        "UPDATE campaigns SET version = $2, state = $3, definition = $4, rollout_stage = $5, stage_started_at = $6, "
        "guardrail_muted_stage = $7, changes = $8, updated_at = $9, tripped = $10 WHERE campaign_id = $1",
        c.campaign_id, c.version, c.state, c.SerializeToString(), c.rollout_stage, stored.stage_started_at,
        stored.muted_stage, stored.changes, c.updated_at.ToDatetime(tzinfo=UTC), stored.tripped,
    )  # fmt: skip


async def page(conn: Connection, *, after: str, limit: int, states: Sequence[int]) -> list[Stored]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM campaigns WHERE campaign_id > $1 "
        "AND (cardinality($3::smallint[]) = 0 OR state = ANY($3::smallint[])) ORDER BY campaign_id LIMIT $2",
        after, limit, list(states),
    )  # fmt: skip
    return [_stored(row) for row in rows]
