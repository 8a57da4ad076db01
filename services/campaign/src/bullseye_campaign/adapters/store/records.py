"""What campaign recorded about its persons: participants (arms), decisions and deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bullseye.campaign.v1 import records_pb2 as rpb
from bullseye_platform.store.pool import Connection

from bullseye_campaign.adapters.store.pairs import fetch, joined
from bullseye_campaign.domain.caps import Send
from bullseye_campaign.domain.keys import SendKey

DEAD = rpb.DELIVERY_STATUS_DEAD_LETTERED
HELD = rpb.DECISION_OUTCOME_HELD


@dataclass(frozen=True)
class Participant:
    arm: str
    entered_at: datetime
    last_entered_at: datetime


async def participants(conn: Connection, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Participant]:
    """(campaign, person) -> their arm and entries, for the pairs asked."""
    query = (
        f"SELECT p.campaign_id, p.person_id, p.arm, p.entered_at, p.last_entered_at FROM participants p {joined('p')}"
    )
    rows = await fetch(conn, query, pairs)
    return {
        (r["campaign_id"], r["person_id"]): Participant(r["arm"], r["entered_at"], r["last_entered_at"]) for r in rows
    }


async def decided(conn: Connection, sends: Sequence[SendKey]) -> set[SendKey]:
    """The sends among `sends` that have their final decision already."""
    rows = await conn.fetch(
        "SELECT d.campaign_id, d.person_id, d.occurrence_id, d.step FROM decisions d "
        "JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(c, p, o, s) "
        "ON d.campaign_id = k.c AND d.person_id = k.p AND d.occurrence_id = k.o AND d.step = k.s "
        "WHERE d.outcome <> $5",
        [k.campaign_id for k in sends], [k.person_id for k in sends], [k.occurrence_id for k in sends],
        [k.step for k in sends], HELD,
    )  # fmt: skip
    return {SendKey(r["campaign_id"], r["person_id"], r["occurrence_id"], r["step"]) for r in rows}


async def sends(
    conn: Connection, persons: Sequence[str], *, since: datetime, lifetime_of: Sequence[str]
) -> list[tuple[str, Send]]:
    """(person, send) of the messages recorded for `persons` (not dead-lettered) that a cap may
    count: since `since`, and every one of the campaigns in `lifetime_of` (their lifetime caps)."""
    rows = await conn.fetch(
        "SELECT person_id, campaign_id, channel, created_at FROM deliveries WHERE person_id = ANY($1::text[]) "
        "AND status <> $3 AND (created_at >= $2 OR campaign_id = ANY($4::text[]))",
        sorted(set(persons)), since, DEAD, sorted(set(lifetime_of)),
    )  # fmt: skip
    return [(r["person_id"], Send(r["campaign_id"], r["channel"], r["created_at"])) for r in rows]


async def lock_persons(conn: Connection, persons: Sequence[str]) -> None:
    """Hold each person's send lock until the transaction ends, in one order everywhere (no
    deadlock): two transactions sending to one person (two campaigns, a retry) count and
    reserve their caps one after the other, so a cap is never exceeded (reserve-then-commit)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended('campaign-send:' || p, 0) AS k "
        "FROM unnest($1::text[]) AS p ORDER BY 1) AS held",
        sorted(set(persons)),
    )
