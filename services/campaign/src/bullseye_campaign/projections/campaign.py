"""Campaign's projection of RESOLVED and PROFILE, applied exactly once by the platform's runner.

RESOLVED gives persons (merges and splits), consent, time zones and what people do; PROFILE
gives segments and who is in them. Each batch is one stream's. Live batches also enter people
into campaigns (event triggers, waits, segment entries); a replay (a schema created empty, or
`rebuild`) applies the same state quietly and enters nobody: what the records caused was
caused when they were live, and the sends it made are recorded (docs/design.md, replays).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from bullseye_platform.eventlog import LogRecord
from bullseye_platform.persons import apply_resolved
from bullseye_platform.projection import caught_up
from bullseye_platform.store.pool import Connection

from bullseye_campaign.adapters.store import campaigns
from bullseye_campaign.projections import activity, segments, triggers
from bullseye_campaign.projections.persons import BatchPersons

log = logging.getLogger(__name__)

NAME = "campaign"
# How long a segment entry waits for its cause on RESOLVED (a stopped RESOLVED reader must not
# stop PROFILE's too); live lag is sub-second.
CAUSE_WAIT = 30.0
OWNED_TABLES = ("person_aliases", "consent_statements", "person_zones", "known_segments", "segment_members", "exits",
                "conversions")  # fmt: skip


class CampaignProjection:
    name = NAME
    owned_tables: Sequence[str] = OWNED_TABLES

    def __init__(self, *, resolved_stream: str, now: Callable[[], datetime]) -> None:
        self._resolved, self._now = resolved_stream, now

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        await self._apply(conn, records, live=True)

    async def apply_quietly(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        await self._apply(conn, records, live=False)

    async def replay_ended(self, conn: Connection) -> None:
        """Nothing was held back: entries are not caught up on (their moment passed)."""

    async def _after_causes(self, conn: Connection, needs: dict[int, int]) -> None:
        """Segment entries wait for the RESOLVED records that made them: entered before campaign
        folded the consent that came first, a person would be decided "no consent". Before
        anything is written: the wait holds no row RESOLVED's batches may need."""
        if needs and not await caught_up(conn, NAME, self._resolved, needs, within=CAUSE_WAIT):
            log.warning("segment entries applied before the RESOLVED records that made them",
                        extra={"needs": needs, "waited_s": CAUSE_WAIT})  # fmt: skip

    async def _apply(self, conn: Connection, records: Sequence[LogRecord], *, live: bool) -> None:
        measured = [s.campaign for s in await campaigns.in_states(conn, campaigns.MEASURED)]
        running = [c for c in measured if c.state in campaigns.LIVE]
        if records[0].stream != self._resolved:
            facts = segments.decode(records)
            if live:
                await self._after_causes(conn, segments.causes(facts))
            entered = await segments.apply(conn, facts)
            if live:
                await segments.enter_on_segments(conn, entered, running)
            return
        batch = BatchPersons()
        await apply_resolved(conn, records, batch)
        await activity.apply(conn, batch.events, measured, running)
        if live:
            await triggers.enter_on_events(conn, batch.events, running, now=self._now)
