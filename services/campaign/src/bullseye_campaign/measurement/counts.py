"""Counting each arm of a campaign in SQL: the report's totals and the guardrails' counts."""

from __future__ import annotations

from datetime import timedelta

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import records_pb2 as rpb
from bullseye_platform.store.pool import Connection

from bullseye_campaign.domain.assignment import CONTROL
from bullseye_campaign.domain.report import ArmTotals

HANDED = (rpb.DELIVERY_STATUS_SENT, rpb.DELIVERY_STATUS_DELIVERED)
DEFAULT_RETENTION = timedelta(days=7)

_PEOPLE = """
SELECT p.arm, count(*) AS audience,
       count(*) FILTER (WHERE p.returned_at IS NOT NULL AND p.returned_at <= p.entered_at + $2) AS retained,
       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM conversions c WHERE c.campaign_id = p.campaign_id
                                      AND c.person_id = p.person_id)) AS converted
FROM participants p WHERE p.campaign_id = $1 GROUP BY p.arm
"""
_MESSAGES = """
SELECT arm, count(*) FILTER (WHERE status = ANY($2::smallint[])) AS sent,
       count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered,
       count(DISTINCT person_id) FILTER (WHERE opened_at IS NOT NULL) AS opened,
       count(DISTINCT person_id) FILTER (WHERE clicked_at IS NOT NULL) AS clicked,
       coalesce(sum(cost) FILTER (WHERE status = ANY($2::smallint[])), 0) AS cost
FROM deliveries WHERE campaign_id = $1 GROUP BY arm
"""
_REVENUE = """
SELECT p.arm, coalesce(sum(c.revenue), 0) AS revenue, min(c.currency) AS currency FROM conversions c
JOIN participants p ON p.campaign_id = c.campaign_id AND p.person_id = c.person_id
WHERE c.campaign_id = $1 GROUP BY p.arm
"""


def shares(campaign: cpb.Campaign) -> list[tuple[str, float, bool]]:
    """(arm, configured share of the audience, is the control): the control first, then the variants."""
    holdout = campaign.holdout_percent / 100
    arms = [(CONTROL, holdout, True)] if campaign.holdout_percent else []
    total = sum(v.weight for v in campaign.variants) or 1
    return arms + [(v.variant_id, (1 - holdout) * v.weight / total, False) for v in campaign.variants]


async def totals(conn: Connection, campaign: cpb.Campaign) -> tuple[list[ArmTotals], str]:
    """Each arm's totals, and the currency revenue was counted in ('' when none)."""
    retention = campaign.goal.retention_window.ToTimedelta() if campaign.goal.HasField("retention_window") \
        else DEFAULT_RETENTION  # fmt: skip
    people = {r["arm"]: r for r in await conn.fetch(_PEOPLE, campaign.campaign_id, retention)}
    messages = {r["arm"]: r for r in await conn.fetch(_MESSAGES, campaign.campaign_id, list(HANDED))}
    revenue = {r["arm"]: r for r in await conn.fetch(_REVENUE, campaign.campaign_id)}
    arms = []
    for arm, share, control in shares(campaign):
        p, m, r = people.get(arm), messages.get(arm), revenue.get(arm)
        arms.append(ArmTotals(
            arm=arm, control=control, share=share, audience=int(p["audience"]) if p else 0,
            sent=int(m["sent"]) if m else 0, delivered=int(m["delivered"]) if m else 0,
            opened=int(m["opened"]) if m else 0, clicked=int(m["clicked"]) if m else 0,
            converted=int(p["converted"]) if p else 0, retained=int(p["retained"]) if p else 0,
            revenue=float(r["revenue"]) if r else 0.0, cost=float(m["cost"]) if m else 0.0,
        ))  # fmt: skip
    currency = next((r["currency"] for r in revenue.values() if r["currency"]), "")
    return arms, currency
