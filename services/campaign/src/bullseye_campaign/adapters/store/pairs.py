"""Reads keyed by (campaign, person) pairs: a whole send batch's rows in one query."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from bullseye_platform.store.pool import Connection


def joined(alias: str) -> str:
    """The join that keeps `alias`'s rows of the asked pairs ($1 campaigns, $2 persons)."""
    return f"JOIN unnest($1::text[], $2::text[]) AS q(c, s) ON {alias}.campaign_id = q.c AND {alias}.person_id = q.s"


async def fetch(conn: Connection, query: str, pairs: Sequence[tuple[str, str]]) -> list[asyncpg.Record]:
    """`query` (which uses `joined`) for the pairs."""
    return await conn.fetch(query, [p[0] for p in pairs], [p[1] for p in pairs])  # type: ignore[no-any-return]
