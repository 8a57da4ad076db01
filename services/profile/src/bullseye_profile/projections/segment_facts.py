"""Segment definitions and memberships restored from PROFILE, for a profile whose database was lost.

Definitions are facts on PROFILE (segments/definitions.py) and so is every entry and exit
(segments/membership.py). A schema created empty (migration 0400 asks for it) replays them
all, in stream order, before anything else of the process runs: definitions with their
versions and times, and the membership intervals with the times and rule versions the facts
name. Then RESOLVED is replayed quietly and the end's sweep reconciles: memberships that still
hold produce no fact, so nothing is announced twice. Not a live projection: the RPCs and the
membership keeper write these tables themselves, in the transactions that emit the facts.

Every step is idempotent (an interval is known by its segment, person and start), so running
it over a database that holds the facts already changes nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Sequence

import asyncpg
from bullseye.profile.v1 import segments_pb2 as pb
from bullseye_platform import replay
from bullseye_platform.eventlog import ALL_PARTITIONS, LogRecord
from bullseye_platform.projection import ProjectionRunner, Source
from bullseye_platform.store.pool import Connection
from bullseye_platform.timestamps import to_datetime
from nats.js import JetStreamContext

NAME = "profile-segments"
RESTORE_BATCH = 2000  # facts per transaction (a restore is all catching up)
log = logging.getLogger(__name__)

_DEFINE = """
INSERT INTO segments (segment_id, name, description, rule, version, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (segment_id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
    rule = EXCLUDED.rule, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
WHERE segments.version < EXCLUDED.version
"""

_ENTER = """
INSERT INTO segment_memberships (segment_id, person_id, rule_version, entered_at)
SELECT s, p, v, e FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[]) AS t(s, p, v, e)
WHERE NOT EXISTS (SELECT 1 FROM segment_memberships m WHERE m.segment_id = t.s AND m.person_id = t.p
                  AND m.entered_at = t.e)
ON CONFLICT DO NOTHING
"""

# An exit names the interval it ends (facts written before it did close the open one).
_EXIT = """
UPDATE segment_memberships m SET exited_at = t.x, exit_version = t.v
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[]) AS t(s, p, v, e, x)
WHERE m.segment_id = t.s AND m.person_id = t.p AND m.exited_at IS NULL AND (t.e IS NULL OR m.entered_at = t.e)
"""


def _verb(record: LogRecord) -> str:
    return record.subject.rsplit(".", 1)[-1]  # <prefix>.<partition>.segment.<verb>


class SegmentFacts:
    """The PROFILE facts folded back into the segment tables (a Replayable projection)."""

    name = NAME
    owned_tables: Sequence[str] = ()  # restored, never reset: they hold the service's definitions

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        # Runs of one kind in one statement: within a run no (segment, person) comes twice
        # without the other kind between (an entry, then its exit).
        for verb, run in itertools.groupby(records, key=_verb):
            await self._apply_run(conn, verb, [record.data for record in run])

    async def apply_quietly(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        await self.apply(conn, records)  # restoring has no side effect to hold back

    async def replay_ended(self, conn: Connection) -> None:
        log.info("segment definitions and memberships restored from the log")

    async def _apply_run(self, conn: Connection, verb: str, payloads: Sequence[bytes]) -> None:
        if verb in ("defined", "updated", "deleted"):
            for payload in payloads:
                await _definition(conn, pb.SegmentDefinitionChanged.FromString(payload))
            return
        facts = [pb.SegmentMembershipChanged.FromString(payload) for payload in payloads]
        columns = ([f.segment_id for f in facts], [f.person_id for f in facts], [f.rule_version for f in facts])
        if verb == "entered":
            await conn.execute(_ENTER, *columns, [to_datetime(f.occurred_at) for f in facts])
        elif verb == "exited":
            starts = [to_datetime(f.entered_at) if f.HasField("entered_at") else None for f in facts]
            await conn.execute(_EXIT, *columns, starts, [to_datetime(f.occurred_at) for f in facts])


async def _definition(conn: Connection, fact: pb.SegmentDefinitionChanged) -> None:
    at = to_datetime(fact.occurred_at)
    if fact.change == pb.SEGMENT_DEFINITION_CHANGE_DELETED:
        await conn.execute(
            "UPDATE segments SET deleted_at = $2, updated_at = $2 WHERE segment_id = $1 AND deleted_at IS NULL",
            fact.segment_id, at,
        )  # fmt: skip
        return
    await conn.execute(
        _DEFINE, fact.segment_id, fact.name, fact.description, fact.rule.SerializeToString(), fact.version,
        to_datetime(fact.created_at), at,
    )  # fmt: skip


async def restore(pool: asyncpg.Pool, js: JetStreamContext, *, stream: str, subject_prefix: str) -> None:
    """Replay PROFILE's segment facts if a restore was asked for, to the end of the stream as it
    is now; one process at a time (processes that split RESOLVED's partitions start together),
    and before the process runs anything that reads or writes segments."""
    projection = SegmentFacts()
    source = Source(stream, subject_prefix, [ALL_PARTITIONS])
    async with pool.acquire() as conn:
        lock = "hashtext(current_schema() || '.segment restore')"
        await conn.execute(f"SELECT pg_advisory_lock({lock})")
        try:
            plan = await replay.plan(pool, js, projection=projection, sources=[source])
            runner = ProjectionRunner(
                js=js, pool=pool, projection=projection, sources=[source], replay=plan, batch_size=RESTORE_BATCH
            )
            await runner.run_replay(asyncio.Event())
        finally:
            await conn.execute(f"SELECT pg_advisory_unlock({lock})")
