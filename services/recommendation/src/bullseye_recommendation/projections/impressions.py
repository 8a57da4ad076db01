"""Recommendation's own RECO facts folded back: impressions and lost impressions, which the
experiment report counts (api/report.py). `model.published` facts are for the serving
processes (serving/swap.py) and leave no row here: the registry's tables are their record."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bullseye.recommendation.v1 import facts_pb2
from bullseye_platform.eventlog import LogRecord
from bullseye_platform.store import bulk_upsert
from bullseye_platform.store.pool import Connection

from bullseye_recommendation.projections.text_arrays import joined, split

LOST = (("recommendation_id", "text"), ("variant", "text"), ("placement", "text"), ("served_at", "timestamptz"))
OWNED_TABLES = ("impressions", "lost_impressions")
INSERT_SERVED = f"""
INSERT INTO impressions (recommendation_id, person_id, variant, placement, model_version, items, served_at)
SELECT r, p, v, pl, m, {split("i")}, s
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
    AS u(r, p, v, pl, m, i, s)
ON CONFLICT (recommendation_id) DO NOTHING
"""


async def apply(conn: Connection, records: Sequence[LogRecord]) -> None:
    served: list[tuple[Any, ...]] = []
    lost: list[tuple[Any, ...]] = []
    for record in records:
        fact = facts_pb2.RecoRecord.FromString(record.data)
        kind = fact.WhichOneof("fact")
        if kind == "served":
            s = fact.served
            items = joined(item.item_id for item in s.items)
            served.append((s.recommendation_id, s.person_id, s.variant, s.placement, s.model_version, items,
                           _time(s.served_at)))  # fmt: skip
        elif kind == "impressions_lost":
            lost += [(i.recommendation_id, i.variant, i.placement, _time(i.served_at))
                     for i in fact.impressions_lost.impressions]  # fmt: skip
    await bulk_upsert(conn, table="lost_impressions", columns=LOST, rows=lost, key=["recommendation_id"], update=[])
    if served:
        await conn.execute(INSERT_SERVED, *[list(values) for values in zip(*served, strict=True)])


def _time(stamp: Any) -> datetime:
    value: datetime = stamp.ToDatetime(tzinfo=UTC)
    return value
