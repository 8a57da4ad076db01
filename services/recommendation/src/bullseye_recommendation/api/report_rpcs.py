"""GetExperimentReport: impressions, clicks, orders, CTR and conversion per variant.

An impression is a `served` fact on RECO (projected into `impressions`); a click or an order
is an event that carried its recommendation id (`attributions`, from RESOLVED). An
impression counts as clicked (ordered) when at least one such event names it: CTR is
clicked impressions / impressions, conversion ordered impressions / impressions. Lost
impressions (a serving process died before writing them) are counted beside, never in the
rates: what the lost answers led to is unknown.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import grpc
from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye_platform.clock import Clock

from bullseye_recommendation.api import validation

WINDOW = timedelta(days=7)
SHOWN = """
SELECT i.variant, count(*) AS impressions, count(*) FILTER (WHERE o.clicked) AS clicks,
       count(*) FILTER (WHERE o.ordered) AS orders
FROM impressions i
LEFT JOIN LATERAL (
    SELECT bool_or(a.outcome = 'click') AS clicked, bool_or(a.outcome = 'order') AS ordered
    FROM attributions a WHERE a.recommendation_id = i.recommendation_id
) o ON true
WHERE i.served_at >= $1 AND i.served_at < $2 AND ($3 = '' OR i.placement = $3)
GROUP BY i.variant
"""
LOST = """
SELECT l.variant, count(*) AS lost FROM lost_impressions l
WHERE l.served_at >= $1 AND l.served_at < $2 AND ($3 = '' OR l.placement = $3)
  AND NOT EXISTS (SELECT 1 FROM impressions i WHERE i.recommendation_id = l.recommendation_id)
GROUP BY l.variant
"""
Context = grpc.aio.ServicerContext[Any, Any]


class ReportRpcs:
    _pool: asyncpg.Pool
    _clock: Clock

    async def GetExperimentReport(
        self, request: pb.GetExperimentReportRequest, context: Context
    ) -> pb.GetExperimentReportResponse:
        validation.check_report(request)
        start = getattr(request, "from")
        end = request.to.ToDatetime(tzinfo=self._clock.now().tzinfo) if request.HasField("to") else self._clock.now()
        begin = start.ToDatetime(tzinfo=end.tzinfo) if request.HasField("from") else end - WINDOW
        async with self._pool.acquire() as conn:
            shown = {r["variant"]: r for r in await conn.fetch(SHOWN, begin, end, request.placement)}
            lost = {r["variant"]: int(r["lost"]) for r in await conn.fetch(LOST, begin, end, request.placement)}
        return pb.GetExperimentReportResponse(variants=[
            _variant(name, shown.get(name), lost.get(name, 0)) for name in sorted(set(shown) | set(lost))
        ])  # fmt: skip


def _variant(name: str, row: asyncpg.Record | None, lost: int) -> pb.VariantReport:
    impressions = int(row["impressions"]) if row else 0
    clicks, orders = (int(row["clicks"]), int(row["orders"])) if row else (0, 0)
    return pb.VariantReport(
        variant=name, impressions=impressions, clicks=clicks, orders=orders, impressions_lost=lost,
        ctr=clicks / impressions if impressions else 0.0, conversion_rate=orders / impressions if impressions else 0.0,
    )  # fmt: skip
