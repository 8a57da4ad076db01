"""Segment definitions and membership intervals in PostgreSQL.

Every value travels as a query parameter; the only SQL text is the constants below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from bullseye.profile.v1 import segments_pb2 as pb
from bullseye_platform.store.pool import Connection

# One lock orders membership writers: a full recompute batch takes it exclusively, the
# projection's per-batch refresh shares it. A recompute batch therefore never evaluates a
# profile that a refresh is about to re-evaluate in a still-open transaction (whichever
# commits last decides, and it saw the other's result).
MEMBERSHIP_LOCK = 0x5E6_0001

_SEGMENT_COLUMNS = "segment_id, name, description, rule, version, computed_version, created_at, updated_at"


@dataclass(frozen=True)
class OpenInterval:
    segment_id: str
    person_id: str
    rule_version: int
    entered_at: datetime


def segment_message(r: asyncpg.Record | None) -> pb.Segment:
    """A `segments` row as the API's Segment."""
    assert r is not None, "callers check that the segment exists first"
    segment = pb.Segment(
        segment_id=str(r["segment_id"]),
        name=str(r["name"]),
        description=str(r["description"]),
        rule=pb.Rule.FromString(bytes(r["rule"])),
        version=int(r["version"]),
        membership_state=(
            pb.MEMBERSHIP_STATE_READY if r["computed_version"] == r["version"] else pb.MEMBERSHIP_STATE_RECOMPUTING
        ),
    )
    segment.created_at.FromDatetime(r["created_at"])
    segment.updated_at.FromDatetime(r["updated_at"])
    return segment


async def lock_shared(conn: Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", MEMBERSHIP_LOCK)


async def lock_exclusive(conn: Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", MEMBERSHIP_LOCK)


async def live_rules(conn: Connection) -> list[tuple[str, int, bytes]]:
    """(segment_id, version, serialized rule) of every segment not deleted."""
    rows = await conn.fetch("SELECT segment_id, version, rule FROM segments WHERE deleted_at IS NULL")
    return [(r["segment_id"], int(r["version"]), bytes(r["rule"])) for r in rows]


async def get_segment(conn: Connection, segment_id: str, *, for_update: bool = False) -> pb.Segment | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE segment_id = $1 AND deleted_at IS NULL{lock}", segment_id
    )
    return segment_message(row) if row else None


async def segment_exists(conn: Connection, segment_id: str) -> bool:
    """Whether the id was ever used (deleted segments keep theirs: history stays answerable)."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM segments WHERE segment_id = $1)", segment_id))


async def insert_segment(conn: Connection, segment: pb.Segment, now: datetime) -> pb.Segment:
    row = await conn.fetchrow(
        "INSERT INTO segments (segment_id, name, description, rule, version, created_at, updated_at) "
        f"VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING {_SEGMENT_COLUMNS}",
        segment.segment_id, segment.name, segment.description, segment.rule.SerializeToString(), now,
    )  # fmt: skip
    return segment_message(row)


async def update_segment(conn: Connection, segment: pb.Segment, now: datetime) -> pb.Segment:
    row = await conn.fetchrow(
        "UPDATE segments SET name = $2, description = $3, rule = $4, version = version + 1, updated_at = $5 "
        f"WHERE segment_id = $1 AND deleted_at IS NULL RETURNING {_SEGMENT_COLUMNS}",
        segment.segment_id, segment.name, segment.description, segment.rule.SerializeToString(), now,
    )  # fmt: skip
    return segment_message(row)


async def mark_deleted(conn: Connection, segment_id: str, now: datetime) -> None:
    # Its recompute jobs stay: their handler drops them (deleting here could wait on a job the
    # worker holds while the worker waits on this transaction's membership lock).
    await conn.execute("UPDATE segments SET deleted_at = $2, updated_at = $2 WHERE segment_id = $1", segment_id, now)


async def list_segments(conn: Connection, *, after: str, limit: int) -> list[pb.Segment]:
    rows = await conn.fetch(
        f"SELECT {_SEGMENT_COLUMNS} FROM segments WHERE deleted_at IS NULL AND segment_id > $1 "
        "ORDER BY segment_id LIMIT $2",
        after,
        limit,
    )
    return [segment_message(r) for r in rows]


async def open_intervals(
    conn: Connection, segment_ids: Sequence[str], person_ids: Sequence[str]
) -> dict[tuple[str, str], OpenInterval]:
    """The current memberships of these persons in these segments, locked for the change."""
    rows = await conn.fetch(
        "SELECT segment_id, person_id, rule_version, entered_at FROM segment_memberships "
        "WHERE exited_at IS NULL AND segment_id = ANY($1::text[]) AND person_id = ANY($2::text[]) "
        "ORDER BY segment_id, person_id FOR UPDATE",
        list(segment_ids),
        list(person_ids),
    )
    return {(r["segment_id"], r["person_id"]): OpenInterval(**dict(r)) for r in rows}


async def open_members(conn: Connection, segment_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT person_id FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NULL", segment_id
    )
    return [r["person_id"] for r in rows]


# (segment_id, rule version, person_id)
Key = tuple[str, int, str]


def _columns(keys: Sequence[Key]) -> tuple[list[str], list[int], list[str]]:
    return [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]


async def open_new(conn: Connection, keys: Sequence[Key], now: datetime) -> set[tuple[str, str]]:
    """Open an interval for each key that has none; returns the (segment, person) pairs opened.

    Two projection workers can judge the same person at once (a merge touches the survivor
    from the merged person's partition): the second waits on the first's row, then skips it
    instead of failing the batch or recording the entry twice.
    """
    if not keys:
        return set()
    rows = await conn.fetch(
        "INSERT INTO segment_memberships (segment_id, rule_version, person_id, entered_at) "
        "SELECT s, v, p, $4 FROM unnest($1::text[], $2::bigint[], $3::text[]) AS t(s, v, p) "
        "ON CONFLICT (segment_id, person_id) WHERE exited_at IS NULL DO NOTHING RETURNING segment_id, person_id",
        *_columns(keys),
        now,
    )
    return {(r["segment_id"], r["person_id"]) for r in rows}


async def close_open(conn: Connection, keys: Sequence[Key], now: datetime) -> set[tuple[str, str]]:
    """Close the open interval of each key (version = the one deciding the exit); returns those closed."""
    if not keys:
        return set()
    rows = await conn.fetch(
        "UPDATE segment_memberships m SET exited_at = $4, exit_version = t.v "
        "FROM unnest($1::text[], $2::bigint[], $3::text[]) AS t(s, v, p) "
        "WHERE m.segment_id = t.s AND m.person_id = t.p AND m.exited_at IS NULL RETURNING m.segment_id, m.person_id",
        *_columns(keys),
        now,
    )
    return {(r["segment_id"], r["person_id"]) for r in rows}


async def member_count(conn: Connection, segment_id: str) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM segment_memberships WHERE segment_id = $1 AND exited_at IS NULL", segment_id
        )
    )


async def current_page(conn: Connection, segment_id: str, *, after: str, limit: int) -> list[pb.Member]:
    rows = await conn.fetch(
        "SELECT person_id, entered_at, rule_version, exited_at FROM segment_memberships "
        "WHERE segment_id = $1 AND exited_at IS NULL AND person_id > $2 ORDER BY person_id LIMIT $3",
        segment_id, after, limit,
    )  # fmt: skip
    return [member_message(r) for r in rows]


async def page_at(conn: Connection, segment_id: str, at: datetime, *, after: str, limit: int) -> list[pb.Member]:
    """Members whose interval covers `at` (entered at or before, not exited by then)."""
    rows = await conn.fetch(
        "SELECT person_id, entered_at, rule_version, exited_at FROM segment_memberships "
        "WHERE segment_id = $1 AND person_id > $2 AND entered_at <= $3 AND (exited_at IS NULL OR exited_at > $3) "
        "ORDER BY person_id LIMIT $4",
        segment_id, after, at, limit,
    )  # fmt: skip
    return [member_message(r) for r in rows]


async def current_membership(conn: Connection, segment_id: str, person_id: str) -> pb.Member | None:
    row = await conn.fetchrow(
        "SELECT person_id, entered_at, rule_version, exited_at FROM segment_memberships "
        "WHERE segment_id = $1 AND person_id = $2 AND exited_at IS NULL",
        segment_id,
        person_id,
    )
    return member_message(row) if row else None


def member_message(r: asyncpg.Record) -> pb.Member:
    member = pb.Member(person_id=str(r["person_id"]), rule_version=int(r["rule_version"]))
    member.entered_at.FromDatetime(r["entered_at"])
    if r["exited_at"] is not None:
        member.exited_at.FromDatetime(r["exited_at"])
    return member
