"""Recommendation's own RECO facts folded back: impressions and lost impressions, which the
experiment report counts (api/report_rpcs.py). `model.published` facts are for the serving
processes (serving/swap.py) and leave no row here: the registry's tables are their record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bullseye.recommendation.v1 import facts_pb2
from bullseye_platform.eventlog import LogRecord
from bullseye_platform.store import bulk_upsert
from bullseye_platform.store.pool import Connection
from bullseye_platform.timestamps import to_datetime

LOST = (("recommendation_id", "text"), ("variant", "text"), ("placement", "text"), ("served_at", "timestamptz"))
OWNED_TABLES = ("impressions", "lost_impressions")
SERVED = (
    ("recommendation_id", "text"), ("person_id", "text"), ("variant", "text"), ("placement", "text"),
    ("model_version", "text"), ("served_at", "timestamptz"),
)  # fmt: skip


async def apply(conn: Connection, records: Sequence[LogRecord]) -> None:
    served: list[tuple[Any, ...]] = []
    lost: list[tuple[Any, ...]] = []
    for record in records:
        fact = facts_pb2.RecoRecord.FromString(record.data)
        kind = fact.WhichOneof("fact")
        if kind == "served":
            served += [(s.recommendation_id, s.person_id, s.variant, s.placement, s.model_version,
                        to_datetime(s.served_at)) for s in fact.served.impressions]  # fmt: skip
        elif kind == "impressions_lost":
            lost += [(i.recommendation_id, i.variant, i.placement, to_datetime(i.served_at))
                     for i in fact.impressions_lost.impressions]  # fmt: skip
    for table, columns, rows in (("impressions", SERVED, served), ("lost_impressions", LOST, lost)):
        await bulk_upsert(conn, table=table, columns=columns, rows=rows, key=["recommendation_id"], update=[])
