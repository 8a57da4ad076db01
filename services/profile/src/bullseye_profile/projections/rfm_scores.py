"""RFM recomputation over all purchasers, on a durable schedule and on demand.

Scores and segments are defined in domain/rfm.py; the computation is one SQL pass over the
journal's orders (percentile ranks with ties sharing the lower score). The schedule is a
row (`rfm_schedule`) claimed FOR UPDATE SKIP LOCKED when due: a restart never forgets a
run, two processes never run it at once, and an on-demand run takes the same lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from bullseye_platform.store.pool import Connection

from bullseye_profile import snapshots
from bullseye_profile.domain.rfm import segment_grid
from bullseye_profile.projections.resolved import Refresh
from bullseye_profile.read_cache import ReadCache

log = logging.getLogger(__name__)
REFRESH_CHUNK = 1000

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


async def recompute(conn: Connection, now: datetime, refresh: Refresh) -> RfmResult:
    """Recompute every purchaser's RFM in the caller's transaction; refreshes segments of those that changed."""
    await conn.execute(_SCORE, now, segment_grid())
    changed = [r["person_id"] for r in await conn.fetch(_CHANGED)]
    await conn.execute("DELETE FROM rfm_scores")
    purchasers = int((await conn.execute("INSERT INTO rfm_scores SELECT * FROM rfm_next")).rsplit(" ", 1)[-1])
    await _store_high_value_threshold(conn, now)
    await snapshots.invalidate_standing(conn)
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


class RfmScheduler:
    """Runs `recompute` whenever the schedule row is due, and on demand (`run_now`)."""

    def __init__(
        self, *, pool: asyncpg.Pool, now: Callable[[], datetime], refresh: Refresh, interval: float, poll: float,
        cache: ReadCache | None = None,
    ) -> None:  # fmt: skip
        self._pool, self._now, self._refresh = pool, now, refresh
        self._cache = cache or ReadCache(0)
        self._interval, self._poll = timedelta(seconds=interval), poll

    async def run_now(self) -> RfmResult:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1 FROM rfm_schedule WHERE id = 1 FOR UPDATE")  # one run at a time
            return await self._run(conn)

    async def run_if_due(self) -> RfmResult | None:
        async with self._pool.acquire() as conn, conn.transaction():
            due = await conn.fetchval(
                "SELECT id FROM rfm_schedule WHERE id = 1 AND next_run_at <= $1 FOR UPDATE SKIP LOCKED", self._now()
            )
            return None if due is None else await self._run(conn)

    async def _run(self, conn: Connection) -> RfmResult:
        with self._cache.changing(None):  # everyone's standing, until the commit is heard of
            result = await recompute(conn, self._now(), self._refresh)
        await conn.execute(
            "UPDATE rfm_schedule SET last_run_at = $1::timestamptz, next_run_at = $1::timestamptz + $2::interval "
            "WHERE id = 1",
            result.computed_at,
            self._interval,
        )
        log.info("rfm recomputed", extra={"purchasers": result.purchasers, "changed": result.changed})
        return result

    async def run(self, stop: asyncio.Event) -> None:
        """The worker: look for a due run every `poll` seconds until `stop`."""
        while not stop.is_set():
            try:
                await self.run_if_due()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("rfm schedule will retry: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._poll)
