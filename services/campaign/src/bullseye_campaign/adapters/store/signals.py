"""Reads of what campaign folded from RESOLVED and PROFILE, for a batch of persons at once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bullseye_platform.consent import ConsentState, Statement, fold
from bullseye_platform.store.pool import Connection

from bullseye_campaign.adapters.store.pairs import fetch, joined


@dataclass(frozen=True)
class ExitMark:
    exited_at: datetime
    reason: str  # "converted" or "exit event"


async def memberships(conn: Connection, persons: Sequence[str], segments: Sequence[str]) -> set[tuple[str, str]]:
    """(segment, person) pairs that hold now, among `segments` x `persons`."""
    rows = await conn.fetch(
        "SELECT segment_id, person_id FROM segment_members WHERE person_id = ANY($1::text[]) "
        "AND segment_id = ANY($2::text[])",
        sorted(set(persons)), sorted(set(segments)),
    )  # fmt: skip
    return {(r["segment_id"], r["person_id"]) for r in rows}


async def consent(conn: Connection, persons: Sequence[str]) -> dict[str, ConsentState]:
    """Each person's consent, folded from their statements (none said: nothing granted)."""
    rows = await conn.fetch(
        "SELECT person_id, purpose, channel, granted, source, occurred_at, event_id FROM consent_statements "
        "WHERE person_id = ANY($1::text[])",
        sorted(set(persons)),
    )
    statements: dict[str, list[Statement]] = defaultdict(list)
    for r in rows:
        statements[r["person_id"]].append(
            Statement(r["purpose"], r["channel"], r["granted"], r["source"], r["occurred_at"], r["event_id"])
        )
    return {person: fold(found) for person, found in statements.items()}


async def zones(conn: Connection, persons: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT person_id, timezone FROM person_zones WHERE person_id = ANY($1::text[])", sorted(set(persons))
    )
    return {r["person_id"]: r["timezone"] for r in rows}


async def exits(conn: Connection, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], ExitMark]:
    """(campaign, person) -> the latest exit, for the pairs asked."""
    rows = await fetch(
        conn, f"SELECT e.campaign_id, e.person_id, e.exited_at, e.reason FROM exits e {joined('e')}", pairs
    )
    return {(r["campaign_id"], r["person_id"]): ExitMark(r["exited_at"], r["reason"]) for r in rows}
