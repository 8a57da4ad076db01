"""Journeys through the real pipeline (ingestion -> EVENTS -> identity -> RESOLVED), scored.

Shared by `make bench` (identity.quality) and `make demo`, so both report the same figures
the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import nats

from bullseye_devtools.quality.resolved import Resolution, read_resolved
from bullseye_devtools.quality.scoring import Quality, score
from bullseye_devtools.quality.traps import TrapQuality, by_trap
from bullseye_devtools.quality.truth import Truth, label
from bullseye_devtools.stack import metrics
from bullseye_devtools.traffic import SendOptions, SendStats, send
from bullseye_devtools.traffic.journeys import Journeys

CONFLICTS = "identity_conflicts_total"


@dataclass(frozen=True)
class QualityRun:
    journeys: Journeys
    truth: Truth
    sent: SendStats
    resolution: Resolution
    quality: Quality
    conflicts: dict[str, float]  # by rule, over everything identity resolved so far

    def by_trap(self) -> dict[str, TrapQuality]:
        """Precision, recall and what was lost, for the persons of each trap."""
        return by_trap(self.journeys, self.truth, self.resolution.final())

    @property
    def persons(self) -> int:
        """Persons the journeys' events (scorable or not) resolved to."""
        final = self.resolution.final()
        return len({final[e.event_id] for e in self.journeys.events if e.event_id in final})


@dataclass(frozen=True, kw_only=True)
class Pipeline:
    """Where the stack is: ingestion's address and an API key with the backfill scope
    (stale cookies and recycled phones lie months back), NATS, identity's metrics."""

    ingestion_address: str
    api_key: str
    nats_url: str
    identity_metrics_url: str


async def send_and_score(
    journeys: Journeys,
    pipeline: Pipeline,
    *,
    resolved_before: int = 0,
    on_batch: Callable[[int], None] | None = None,
    stall: float = 60.0,
) -> QualityRun:
    """Send the journeys, wait until RESOLVED holds `resolved_before` + the accepted events
    (other traffic in EVENTS counts in `resolved_before`), fold it and score it.

    Raises:
        SendError: ingestion refused a batch for good.
        TimeoutError: identity stopped making progress for `stall` seconds.
    """
    truth = label(journeys.events, journeys.person_of, logged_out_follows_device=journeys.logged_out_follows_device)
    # One batch in flight: the journeys' order (late arrivals, the CRM export last) is EVENTS'.
    options = SendOptions(backfill=True, in_flight=1)
    sent = await send(
        journeys.events,
        address=pipeline.ingestion_address,
        api_key=pipeline.api_key,
        options=options,
        on_batch=on_batch,
    )
    client = await nats.connect(pipeline.nats_url)
    try:
        resolution = await read_resolved(client, expect_events=resolved_before + sent.accepted, stall=stall)
    finally:
        await client.close()
    quality = score(truth, resolution.final())
    return QualityRun(journeys, truth, sent, resolution, quality, conflicts_by_rule(pipeline.identity_metrics_url))


def conflicts_by_rule(url: str) -> dict[str, float]:
    """Links identity refused because of a limit, per rule; empty when its metrics are unreachable."""
    try:
        return metrics.by_label(metrics.scrape(url), CONFLICTS, "rule")
    except OSError:
        return {}
