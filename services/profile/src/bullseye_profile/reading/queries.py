"""The set-based reads a batch of profiles is built from: one query per kind of fact,
each over all requested persons at once (`person_id = ANY($1)`, events up to `$2`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
from bullseye_platform.store.pool import Connection

from bullseye_profile.domain.policy import ProfilePolicy
from bullseye_profile.domain.tags import Population

WINDOWS = (1, 7, 30, 90)

_BY_TYPE = """
SELECT person_id, event_type,
       count(*) FILTER (WHERE occurred_at > $2::timestamptz - interval '1 day') AS c1,
       count(*) FILTER (WHERE occurred_at > $2::timestamptz - interval '7 days') AS c7,
       count(*) FILTER (WHERE occurred_at > $2::timestamptz - interval '30 days') AS c30,
       count(*) FILTER (WHERE occurred_at > $2::timestamptz - interval '90 days') AS c90,
       count(*) AS lifetime, min(occurred_at) AS first_at, max(occurred_at) AS last_at,
       sum(amount) AS amount,
       coalesce(sum(amount) FILTER (WHERE occurred_at > $2::timestamptz - interval '90 days'), 0) AS amount_90d,
       count(*) FILTER (WHERE discounted) AS discounted, avg(unit_price) AS mean_price,
       (array_agg(currency ORDER BY occurred_at, event_id) FILTER (WHERE currency <> ''))[1] AS currency
FROM journal WHERE person_id = ANY($1::text[]) AND occurred_at <= $2::timestamptz
GROUP BY person_id, event_type
"""

_HOURS = """
SELECT person_id, local_hour, count(*) AS n FROM journal
WHERE person_id = ANY($1::text[]) AND occurred_at <= $2::timestamptz GROUP BY person_id, local_hour
"""

_LAST_CONTEXT = """
SELECT person_id,
       (array_agg(channel ORDER BY occurred_at DESC, event_id DESC) FILTER (WHERE channel <> 0))[1] AS channel,
       (array_agg(device_type ORDER BY occurred_at DESC, event_id DESC) FILTER (WHERE device_type <> ''))[1]
           AS device_type,
       (array_agg(timezone ORDER BY occurred_at DESC, event_id DESC) FILTER (WHERE timezone <> ''))[1] AS timezone
FROM journal WHERE person_id = ANY($1::text[]) AND occurred_at <= $2::timestamptz GROUP BY person_id
"""

# A session starts at a person's first event, after a gap longer than $3 seconds, or where
# the client's session id changes.
_SESSIONS = """
SELECT person_id, count(*) FILTER (
         WHERE prev_at IS NULL OR occurred_at - prev_at > make_interval(secs => $3::float8)
            OR (session_id <> '' AND prev_session <> '' AND session_id <> prev_session)) AS sessions
FROM (SELECT person_id, occurred_at, session_id,
             lag(occurred_at) OVER w AS prev_at, lag(session_id) OVER w AS prev_session
      FROM journal WHERE person_id = ANY($1::text[]) AND occurred_at <= $2::timestamptz
      WINDOW w AS (PARTITION BY person_id ORDER BY occurred_at, event_id)) s
GROUP BY person_id
"""

# Each interaction adds 1, halved every $3 seconds of age, measured here from the person's
# last event (fold.finish decays the sum to the time asked for, so a stored base
# gives the same figure as a fresh fold). Summed in a fixed order so that a replay gives the
# same floating-point result bit for bit.
_AFFINITIES = """
WITH ref AS (SELECT person_id, max(occurred_at) AS at FROM journal
             WHERE person_id = ANY($1::text[]) AND occurred_at <= $2::timestamptz GROUP BY person_id)
SELECT x.person_id, kind, name,
       sum(power(0.5, extract(epoch FROM (ref.at - occurred_at))::float8 / $3::float8)
           ORDER BY occurred_at, event_id) AS score
FROM (SELECT person_id, occurred_at, event_id, 'category' AS kind, jsonb_array_elements_text(categories) AS name
      FROM journal WHERE person_id = ANY($1::text[]) AND occurred_at <= $2::timestamptz AND categories <> '[]'
      UNION ALL
      SELECT person_id, occurred_at, event_id, 'brand', jsonb_array_elements_text(brands)
      FROM journal WHERE person_id = ANY($1::text[]) AND occurred_at <= $2::timestamptz AND brands <> '[]') x
JOIN ref USING (person_id)
GROUP BY x.person_id, kind, name
"""

_DETAILS = """
SELECT person_id, event_type, occurred_at, event_id, detail FROM journal
WHERE person_id = ANY($1::text[]) AND occurred_at <= $2::timestamptz AND detail IS NOT NULL
ORDER BY person_id, occurred_at, event_id
"""


@dataclass
class Readings:
    """Everything read for a batch of persons, keyed by person id."""

    types: dict[str, list[asyncpg.Record]] = field(default_factory=lambda: defaultdict(list))
    hours: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    context: dict[str, asyncpg.Record] = field(default_factory=dict)
    sessions: dict[str, int] = field(default_factory=dict)
    affinities: dict[str, dict[str, list[tuple[str, float]]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    details: dict[str, list[asyncpg.Record]] = field(default_factory=lambda: defaultdict(list))
    rfm: dict[str, asyncpg.Record] = field(default_factory=dict)
    merged: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    population: Population = field(default_factory=Population)


async def fetch_all(conn: Connection, ids: Sequence[str], now: datetime, policy: ProfilePolicy) -> Readings:
    readings = Readings()
    for r in await conn.fetch(_BY_TYPE, ids, now):
        readings.types[r["person_id"]].append(r)
    if not readings.types:
        return readings
    ids = sorted(readings.types)
    for r in await conn.fetch(_HOURS, ids, now):
        readings.hours[r["person_id"]][r["local_hour"]] = r["n"]
    readings.context = {r["person_id"]: r for r in await conn.fetch(_LAST_CONTEXT, ids, now)}
    rows = await conn.fetch(_SESSIONS, ids, now, policy.session_gap)
    readings.sessions = {r["person_id"]: r["sessions"] for r in rows}
    for r in await conn.fetch(_AFFINITIES, ids, now, policy.affinity_half_life):
        readings.affinities[r["person_id"]][r["kind"]].append((r["name"], float(r["score"])))
    for r in await conn.fetch(_DETAILS, ids, now):
        readings.details[r["person_id"]].append(r)
    await _fetch_standing(conn, ids, readings)
    return readings


async def _fetch_standing(conn: Connection, ids: Sequence[str], readings: Readings) -> None:
    """RFM scores, merged ids and population figures (kept by the RFM computation)."""
    rows = await conn.fetch("SELECT * FROM rfm_scores WHERE person_id = ANY($1::text[])", ids)
    readings.rfm = {r["person_id"]: r for r in rows}
    rows = await conn.fetch(
        "SELECT person_id, survivor_id FROM person_aliases WHERE survivor_id = ANY($1::text[]) ORDER BY person_id", ids
    )
    for r in rows:
        readings.merged[r["survivor_id"]].append(r["person_id"])
    threshold = await conn.fetchval("SELECT value FROM population_stats WHERE name = 'high_value_threshold'")
    readings.population = Population(high_value_threshold=None if threshold is None else float(threshold))
