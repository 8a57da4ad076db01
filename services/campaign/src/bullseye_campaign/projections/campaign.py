"""Campaign's projection of RESOLVED and PROFILE, applied exactly once by the platform's runner.

RESOLVED gives persons (merges and splits), consent, time zones and what people do; PROFILE
gives segments and who is in them. Each batch is one stream's. Live batches also enter people
into campaigns (event triggers, waits, segment entries); a replay (a schema created empty, or
`rebuild`) applies the same state quietly and enters nobody: what the records caused was
caused when they were live, and the sends it made are recorded (docs/design.md, replays).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from bullseye_platform.eventlog import LogRecord
from bullseye_platform.persons import apply_resolved
from bullseye_platform.store.pool import Connection

from bullseye_campaign.adapters.store import campaigns
from bullseye_campaign.projections import activity, segments, triggers
from bullseye_campaign.projections.persons import BatchPersons

NAME = "campaign"
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

    async def _apply(self, conn: Connection, records: Sequence[LogRecord], *, live: bool) -> None:
        measured = [s.campaign for s in await campaigns.in_states(conn, campaigns.MEASURED)]
        running = [c for c in measured if c.state in campaigns.LIVE]
        if records[0].stream != self._resolved:
            entered = await segments.apply(conn, records)
            if live:
                await segments.enter_on_segments(conn, entered, running)
            return
        batch = BatchPersons()
        await apply_resolved(conn, records, batch)
        await activity.apply(conn, batch.events, measured, running)
        if live:
            await triggers.enter_on_events(conn, batch.events, running, now=self._now)
