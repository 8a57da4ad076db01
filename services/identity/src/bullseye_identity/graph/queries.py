"""Read-only questions to the graph (what the query RPCs answer)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from bullseye_platform.grpc import NotFound
from bullseye_platform.store.pool import Connection

from bullseye_identity.domain.policy import Key, Policy
from bullseye_identity.graph import sql

_IDENTITIES = """
SELECT i.id_type, i.id_value, i.first_seen, i.last_seen, i.source, i.cause_event_id, i.via, i.strong, s.reason AS shared
FROM identifiers i LEFT JOIN shared_values s ON s.id_type = i.id_type AND s.id_value = i.id_value
WHERE i.person_id = $1 ORDER BY i.first_seen, i.id_type, i.id_value
"""
_HISTORY = """
SELECT kind, other_person_id, survivor, reason, rule, cause_event_id, occurred_at, identifier, strength
FROM history WHERE person_id = $1 ORDER BY id
"""


async def current_person(conn: Connection, person_id: str) -> str | None:
    """The live person `person_id` stands for (the survivor when it was merged), or None."""
    return await conn.fetchval(sql.CURRENT, person_id)  # type: ignore[no-any-return]


async def live_person(conn: Connection, person_id: str, field: str) -> str:
    """The live person `person_id` (the request's `field`) stands for.

    Raises:
        NotFound: no such person.
    """
    current = await current_person(conn, person_id)
    if current is None:
        raise NotFound(f"{field}: no person {person_id!r}", reason="PERSON_NOT_FOUND", metadata={"field": field})
    return current


async def resolve(conn: Connection, keys: Sequence[Key], policy: Policy) -> tuple[str, Key] | None:
    """(person, deciding identifier) for the highest-priority known key not marked shared."""
    types, values = [k[0] for k in keys], [k[1] for k in keys]
    rows = await conn.fetch(sql.IDENTIFIERS_BY_KEY, types, values)
    owners = {(r["id_type"], r["id_value"]): r["person_id"] for r in rows}
    shared = {(r["id_type"], r["id_value"]) for r in await conn.fetch(sql.SHARED, types, values)}
    usable = [k for k in policy.ordered(owners) if k not in shared]
    return (owners[usable[0]], usable[0]) if usable else None


async def identities(conn: Connection, person_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(_IDENTITIES, person_id)  # type: ignore[no-any-return]


async def history(conn: Connection, person_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(_HISTORY, person_id)  # type: ignore[no-any-return]
