"""Profile snapshots: GetProfile in one round trip instead of a fold of the journal.

A fold (load.py) costs eight queries over the person's whole history. Most of what it gives
changes only when the journal does or when an event crosses a rolling-window edge, so that
part (fold.build_base) is stored per person with the time it was computed and the
instant it stops holding (`valid_until`: the next window edge, or the next later-dated event).
A read finishes the stored base as of the time asked for (fold.finish: clock-driven
fields, decayed affinities, RFM standing and tags, read live in the same query), which is the
very code a fold ends with, so both give the same message.

Invalidation is transactional, never time-based: the projection calls `invalidate` for every
person a batch touches, in the batch's transaction, which bumps the person's `generation` and
drops the base. A base is folded in a REPEATABLE READ snapshot together with the generation it
saw, and stored only if that generation still holds, so a batch that commits during the fold
is never hidden. The same transaction notifies the ids, and each process keeps the bases it
read until it hears of a change (cache.py).

Bases are stored only for reads at the service's clock; a read `as_of` another time uses a
stored base when it is valid then, and folds otherwise (without storing: an old or future
as_of must not displace the base current reads need).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye_platform.store.pool import Connection

from bullseye_profile.domain.policy import ProfilePolicy
from bullseye_profile.domain.tags import Population
from bullseye_profile.reading.cache import CHANNEL_PREFIX, EVERYONE, CachedBase, ReadCache
from bullseye_profile.reading.connections import ReadConnections
from bullseye_profile.reading.fold import Standing, build_base, finish
from bullseye_profile.reading.queries import WINDOWS, fetch_all

# Bump when fold.build_base (or a query it reads) changes what a base holds.
BASE_VERSION = 1
RFM_COLUMNS = ("recency_days", "frequency", "monetary", "r", "f", "m", "segment", "computed_at")

# The survivor of the id, its stored base, and its live RFM standing: one round trip.
_READ = f"""
SELECT q.owner, s.generation, s.base, s.fingerprint, s.computed_at, s.valid_until, r.person_id IS NOT NULL AS has_rfm,
       {", ".join(f"r.{c} AS rfm_{c}" for c in RFM_COLUMNS)},
       (SELECT value FROM population_stats WHERE name = 'high_value_threshold') AS high_value_threshold
FROM (SELECT coalesce((SELECT survivor_id FROM person_aliases WHERE person_id = $1::text), $1::text) AS owner) q
LEFT JOIN profile_snapshots s ON s.person_id = q.owner
LEFT JOIN rfm_scores r ON r.person_id = q.owner
"""

# The first instant after $2 at which a fold of the person would differ without any new
# record: an event leaving one of the rolling windows (counted while occurred_at > now - w,
# as in queries._BY_TYPE), or an event dated later than $2 coming into view. NULL: never.
_EDGES = (
    f"(SELECT min(occurred_at) FROM journal WHERE person_id = $1 AND occurred_at <= $2"
    f" AND occurred_at > $2 - interval '{days} days') + interval '{days} days'"
    for days in WINDOWS
)
_NEXT_CHANGE = (
    "SELECT least((SELECT min(occurred_at) FROM journal WHERE person_id = $1 AND occurred_at > $2), "
    f"{', '.join(_EDGES)})"
)

# Stored only if no batch touched the person since the fold's snapshot (see the module doc).
_STORE = """
INSERT INTO profile_snapshots (person_id, generation, base, fingerprint, computed_at, valid_until)
VALUES ($1, 0, $2, $6, $3, $4)
ON CONFLICT (person_id) DO UPDATE
SET base = EXCLUDED.base, fingerprint = EXCLUDED.fingerprint, computed_at = EXCLUDED.computed_at,
    valid_until = EXCLUDED.valid_until
WHERE profile_snapshots.generation = $5
"""

# The bump, and at commit one NOTIFY per ~6 kB of ids (a payload must stay under 8,000 bytes).
_INVALIDATE = f"""
WITH bumped AS (
    INSERT INTO profile_snapshots (person_id, generation) SELECT unnest($1::text[]), 1
    ON CONFLICT (person_id) DO UPDATE SET generation = profile_snapshots.generation + 1, base = NULL
    RETURNING person_id
), chunked AS (
    SELECT person_id, sum(octet_length(to_json(person_id)::text) + 1) OVER (ORDER BY person_id) / 6000 AS chunk
    FROM bumped
)
SELECT pg_notify('{CHANNEL_PREFIX}' || current_schema(), json_agg(person_id)::text) FROM chunked GROUP BY chunk
"""


async def invalidate_standing(conn: Connection) -> None:
    """Tell every process's read cache at commit that everyone's standing (RFM, population
    figures) changed: called by the RFM recompute in its transaction."""
    await conn.execute(f"SELECT pg_notify('{CHANNEL_PREFIX}' || current_schema(), '{EVERYONE}')")


async def invalidate(conn: Connection, person_ids: Sequence[str]) -> None:
    """Drop the stored bases of `person_ids` (sorted: concurrent batches lock rows in one order)
    and tell every process's read cache at commit; called by the projection in the transaction
    that changed their journal."""
    await conn.execute(_INVALIDATE, sorted(set(person_ids)))


async def read_profile(
    readers: ReadConnections, pool: asyncpg.Pool, cache: ReadCache, person_id: str, now: datetime,
    policy: ProfilePolicy, *, store: bool,
) -> pb.Profile | None:  # fmt: skip
    """The profile of `person_id` (or of the survivor it was merged into) as of `now`; None
    when the person has no event up to `now`. `store`: keep a freshly folded base. A base is
    taken from `cache`, else read in one statement on `readers`; a fold runs on the pool. A base
    read or stored is kept in `cache`."""
    expected = fingerprint(policy)
    cached = cache.get(person_id)
    if cached is not None and cached.usable(now, expected):
        return finish(pb.Profile.FromString(cached.base), now, cached.standing, policy)
    epoch = cache.epoch()
    row = await readers.fetchrow(_READ, person_id)
    assert row is not None  # the query always returns one row
    stored = _stored(row)
    if stored is not None and stored.usable(now, expected):
        cache.put(person_id, stored, epoch)
        return finish(pb.Profile.FromString(stored.base), now, stored.standing, policy)
    async with pool.acquire() as conn:
        profile, kept = await _fold(conn, row["owner"], now, policy, store=store)
    if kept is not None:
        cache.put(person_id, kept, epoch)
    return profile


@functools.lru_cache(maxsize=8)
def fingerprint(policy: ProfilePolicy) -> str:
    """What a base depends on besides the journal: the code that builds it and the thresholds."""
    return f"{BASE_VERSION} {policy!r}"


def _stored(row: asyncpg.Record) -> CachedBase | None:
    if row["base"] is None:
        return None
    return CachedBase(
        owner=row["owner"], base=row["base"], fingerprint=row["fingerprint"], computed_at=row["computed_at"],
        valid_until=row["valid_until"], standing=_standing(row),
    )  # fmt: skip


def _standing(row: asyncpg.Record) -> Standing:
    rfm: dict[str, Any] | None = {c: row[f"rfm_{c}"] for c in RFM_COLUMNS} if row["has_rfm"] else None
    threshold = row["high_value_threshold"]
    return Standing(rfm, Population(high_value_threshold=None if threshold is None else float(threshold)))


async def _fold(
    conn: Connection, owner: str, now: datetime, policy: ProfilePolicy, *, store: bool
) -> tuple[pb.Profile | None, CachedBase | None]:
    """The profile folded from the journal, and the base it stored (None: not asked to, or a
    batch committed during the fold)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        generation = await conn.fetchval("SELECT generation FROM profile_snapshots WHERE person_id = $1", owner)
        readings = await fetch_all(conn, [owner], now, policy)
        if owner not in readings.types:
            return None, None
        valid_until = await conn.fetchval(_NEXT_CHANGE, owner, now) if store else None
    standing = Standing(readings.rfm.get(owner), readings.population)
    base, kept = build_base(owner, readings, policy), None
    if store:
        serialized, expected = base.SerializeToString(), fingerprint(policy)
        status = await conn.execute(_STORE, owner, serialized, now, valid_until, generation, expected)
        if status.endswith(" 1"):  # "INSERT 0 1": the generation held
            kept = CachedBase(owner, serialized, expected, now, valid_until, standing)
    return finish(base, now, standing, policy), kept
