"""RFM scores: a projection of the journal's orders, recomputed over all purchasers on a
durable schedule and on demand.

Scores and segments are defined in domain/rfm.py; the computation is one SQL pass over the
journal's orders (percentile ranks with ties sharing the lower score). The schedule is a
platform job (queue `rfm`, one row) claimed FOR UPDATE SKIP LOCKED when due: a restart never
forgets a run, two processes never run it at once, and an on-demand run takes the same lock.
While a rebuild replays the journal, the scheduled run waits for the replay's end, which runs
it once over the whole journal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from bullseye_platform import jobs, replay
from bullseye_platform.jobs import Queue
from bullseye_platform.store.pool import Connection

from bullseye_profile.domain.rfm import segment_grid
from bullseye_profile.projections.resolved import NAME as PROJECTION
from bullseye_profile.projections.resolved import Refresh
from bullseye_profile.reading import bases
from bullseye_profile.reading.cache import ReadCache

log = logging.getLogger(__name__)
REFRESH_CHUNK = 1000
QUEUE, KEY = "rfm", "scheduled"  # the job's row (migration 0400)

_SCORE = """
CREATE TEMP TABLE rfm_next ON COMMIT DROP AS
WITH orders AS (
    SELECT person_id, count(*) AS frequency, max(occurred_at) AS last_order, sum(amount) AS revenue
    FROM journal WHERE event_type = 'order_completed' AND occurred_at <= $1 GROUP BY person_id
), refunds AS (
    SELECT person_id, sum(amount) AS refunded
    FROM journal WHERE event_type = 'order_refunded' AND occurred_at <= $1 GROUP BY person_id
), base AS (
    SELECT o.person_id, floor(extract(epoch FROM ($1 - o.last_order)) / 86400)::int AS recency_days,
           o.frequency, o.revenue - coalesce(r.refunded, 0) AS monetary
    FROM orders o LEFT JOIN refunds r USING (person_id)
), ranked AS (
    SELECT *, count(*) OVER () AS n,
           rank() OVER (ORDER BY recency_days DESC) - 1 AS r_worse,
           rank() OVER (ORDER BY frequency) - 1 AS f_worse,
           rank() OVER (ORDER BY monetary) - 1 AS m_worse
    FROM base
)
SELECT person_id, recency_days, frequency, monetary,
       (1 + 5 * r_worse / n)::smallint AS r, (1 + 5 * f_worse / n)::smallint AS f,
       (1 + 5 * m_worse / n)::smallint AS m,
       ($2::smallint[])[(5 * r_worse / n) * 5 + (1 + 5 * f_worse / n)] AS segment, $1::timestamptz AS computed_at
FROM ranked
"""

_CHANGED = """
SELECT coalesce(n.person_id, o.person_id) AS person_id FROM rfm_next n
FULL JOIN rfm_scores o ON o.person_id = n.person_id
WHERE (n.recency_days, n.frequency, n.monetary, n.r, n.f, n.m, n.segment)
      IS DISTINCT FROM (o.recency_days, o.frequency, o.monetary, o.r, o.f, o.m, o.segment)
ORDER BY 1
"""

# Top 20% by 90-day revenue: the revenue_90d of the person at rank ceil(0.2 n) among those
# with some; everyone at or above it is high value (ties included).
_HIGH_VALUE = """
WITH recent AS (
    SELECT person_id, sum(amount) AS revenue FROM journal
    WHERE event_type = 'order_completed' AND occurred_at <= $1 AND occurred_at > $1 - interval '90 days'
    GROUP BY person_id HAVING sum(amount) > 0
)
SELECT revenue FROM recent ORDER BY revenue DESC
OFFSET greatest(ceil(0.2 * (SELECT count(*) FROM recent))::int - 1, 0) LIMIT 1
"""


@dataclass(frozen=True)
class RfmResult:
    purchasers: int
    changed: int
    computed_at: datetime


async def recompute(conn: Connection, now: datetime, refresh: Refresh | None) -> RfmResult:
    """Recompute every purchaser's RFM in the caller's transaction; refreshes segments of those
    that changed (unless `refresh` is None)."""
    await conn.execute(_SCORE, now, segment_grid())
    changed = [r["person_id"] for r in await conn.fetch(_CHANGED)]
    await conn.execute("DELETE FROM rfm_scores")
    purchasers = int((await conn.execute("INSERT INTO rfm_scores SELECT * FROM rfm_next")).rsplit(" ", 1)[-1])
    await _store_high_value_threshold(conn, now)
    await bases.invalidate_standing(conn)
    if refresh is not None:
        for start in range(0, len(changed), REFRESH_CHUNK):
            await refresh(conn, changed[start : start + REFRESH_CHUNK], now)
    return RfmResult(purchasers=purchasers, changed=len(changed), computed_at=now)


async def _store_high_value_threshold(conn: Connection, now: datetime) -> None:
    threshold = await conn.fetchval(_HIGH_VALUE, now)
    if threshold is None:
        await conn.execute("DELETE FROM population_stats WHERE name = 'high_value_threshold'")
        return
    await conn.execute(
        "INSERT INTO population_stats (name, value, computed_at) VALUES ('high_value_threshold', $1, $2) "
        "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, computed_at = EXCLUDED.computed_at",
        float(threshold),
        now,
    )


class RfmSchedule:
    """Runs `recompute` as a durable job (queue `rfm`, re-run every `interval`), on demand, and
    quietly at the end of a rebuild's replay."""

    def __init__(
        self, *, pool: asyncpg.Pool, now: Callable[[], datetime], refresh: Refresh, interval: float,
        cache: ReadCache | None = None,
    ) -> None:  # fmt: skip
        self._pool, self._now, self._refresh = pool, now, refresh
        self._cache = cache or ReadCache(0)
        self._interval = timedelta(seconds=interval)
        self.queue = Queue(QUEUE, self._scheduled)

    async def run_now(self) -> RfmResult:
        """A run on demand, after any scheduled run in progress (the job's row lock); the
        schedule then counts from it."""
        async with self._pool.acquire() as conn, conn.transaction():
            await jobs.hold(conn, queue=QUEUE, key=KEY)
            return await self._run(conn, self._refresh)

    async def run_quietly(self, conn: Connection) -> None:
        """A run in the caller's transaction without refreshing segments: the end of a replay,
        whose sweep reconciles every membership after it (against these very scores)."""
        await self._run(conn, None)

    async def _scheduled(self, conn: Connection, job: jobs.Job) -> datetime:
        if await replay.pending(conn, PROJECTION):  # its end runs one (run_quietly)
            return self._now() + self._interval
        await self._run(conn, self._refresh)
        return self._now() + self._interval

    async def _run(self, conn: Connection, refresh: Refresh | None) -> RfmResult:
        with self._cache.changing(None):  # everyone's standing, until the commit is heard of
            result = await recompute(conn, self._now(), refresh)
        await jobs.set_due(conn, queue=QUEUE, key=KEY, due_at=result.computed_at + self._interval)
        log.info("rfm recomputed", extra={"purchasers": result.purchasers, "changed": result.changed})
        return result
