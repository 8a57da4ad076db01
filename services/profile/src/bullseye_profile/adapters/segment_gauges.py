"""`profile_segment_members{segment}`: each live segment's current size, sampled.

Counted from the open membership intervals (the same rows `GetSegment` counts), every
`*_METRICS_INTERVAL`, in the process that folds (instruments/sampled.py). A deleted
segment reads 0 from then on rather than keeping its last size.
"""

from __future__ import annotations

import asyncpg
from bullseye_platform.instruments.sampled import Probe
from opentelemetry import metrics

_SIZES = """
SELECT s.segment_id, count(m.person_id) AS members
FROM segments s LEFT JOIN segment_memberships m ON m.segment_id = s.segment_id AND m.exited_at IS NULL
WHERE s.deleted_at IS NULL GROUP BY s.segment_id
"""


def segment_sizes(pool: asyncpg.Pool) -> Probe:
    gauge = metrics.get_meter("bullseye.profile").create_gauge(
        "profile_segment_members", description="current members of each live segment"
    )
    seen: set[str] = set()

    async def probe() -> None:
        sizes = {r["segment_id"]: int(r["members"]) for r in await pool.fetch(_SIZES)}
        for gone in seen - sizes.keys():
            gauge.set(0, {"segment": gone})
        for segment, members in sizes.items():
            gauge.set(members, {"segment": segment})
        seen.update(sizes)

    return probe
