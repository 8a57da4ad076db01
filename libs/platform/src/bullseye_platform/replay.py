"""Replay without side effects: a rebuild folds the log again without acting on it again.

Records a projection applies cause things beyond its tables: facts in the outbox, segment
refreshes, messages. Replaying the whole log after a rebuild (`request`, then a restart) must
rebuild the tables without causing those twice: campaigns acted on them already. So the
start after a request plans a replay (`plan`): for each partition it owns, the last sequence
the stream holds now. Batches at or below it go to the projection's `apply_quietly`; records
after it are live. The partitions still replaying are rows (`projection_replay_partitions`),
listed for every worker's partitions by the first start that plans the replay: each worker
deletes its own as they reach their targets, and the transaction that deletes the last one
(of any worker) ends the replay and calls the projection's `replay_ended`, which catches up
on what was held back (profile makes one reconciling sweep due). A worker killed mid-replay
finds the rows again and replays the rest the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bullseye_platform.eventlog.consumer import LogRecord
from bullseye_platform.eventlog.subjects import partition_filter
from bullseye_platform.store.pool import Connection

if TYPE_CHECKING:  # projection.py runs replays; only the types are needed here
    from bullseye_platform.projection import Replayable, Source

Partition = tuple[str, int]  # (stream, partition)


async def request(conn: Connection, projection: str) -> None:
    """Ask the projection's next start to replay its streams quietly, up to their ends at that
    start (a rebuild; an empty schema). Asked again while one runs, it starts over."""
    await conn.execute(
        "INSERT INTO projection_replays (projection) VALUES ($1) "
        "ON CONFLICT (projection) DO UPDATE SET listed = false, requested_at = now()",
        projection,
    )
    await conn.execute("DELETE FROM projection_replay_partitions WHERE projection = $1", projection)


@dataclass
class Replay:
    """Where this start's replay ends in each (stream, partition) it owns; empty: no replay."""

    projection: Replayable | None = None
    until: Mapping[Partition, int] = field(default_factory=dict)
    requested: bool = False  # a replay runs, maybe only in other workers' partitions
    _reached: set[Partition] = field(default_factory=set)
    _over: bool = False  # ended everywhere, as far as this process knows

    @property
    def active(self) -> bool:
        """Whether partitions of this start still replay."""
        return bool(self.until) and not self._reached >= set(self.until)

    async def quiet(self, conn: Connection, records: Sequence[LogRecord]) -> bool:
        """Whether the batch is applied quietly: while the replay runs anywhere, every batch is,
        live records included, since the end's reconciliation covers them and a side effect
        decided on a half-replayed state (another partition, a merge not replayed yet) would be
        false. Takes the lock that orders the batch before the end of the replay: the request's
        row, shared, or exclusively in a batch that settles a partition (no upgrade, no deadlock)."""
        if not self.requested or self._over or self.projection is None:
            return False
        if not self._ends(records) and self.covers(records):
            return True  # its partition's own end comes after it
        lock = "UPDATE" if self._ends(records) else "SHARE"
        held = await conn.fetchval(
            f"SELECT 1 FROM projection_replays WHERE projection = $1 FOR {lock}", self.projection.name
        )
        self._over = held is None  # never requested again while this process runs (the service is stopped)
        return not self._over

    def covers(self, records: Sequence[LogRecord]) -> bool:
        """True when the whole batch is at or below its partitions' targets."""
        return all(r.seq <= self.until.get((r.stream, r.partition), 0) for r in records)

    async def advance(self, conn: Connection, records: Sequence[LogRecord]) -> bool:
        """In the batch's transaction, after it was applied: settle the partitions whose target
        it reaches (a batch whose transaction fails comes again and settles them again).
        Returns whether this batch ends the replay."""
        ended = self._ends(records)
        return bool(ended) and self.projection is not None and await settle(conn, self.projection, ended)

    def committed(self, records: Sequence[LogRecord], *, ended: bool) -> None:
        """After the batch's commit: the partitions whose target it reached are done, and the
        replay is over if the batch ended it."""
        self._reached.update(self._ends(records))
        self._over = self._over or ended

    def _ends(self, records: Sequence[LogRecord]) -> list[Partition]:
        reached = {(r.stream, r.partition) for r in records if r.seq >= self.until.get((r.stream, r.partition), -1) > 0}
        return sorted(reached - self._reached)


async def pending(conn: Connection, projection: str) -> bool:
    """Whether a replay of `projection` was asked for and has not ended: work that decides from
    the projection's tables (a scheduled sweep) waits for its end."""
    return await conn.fetchval("SELECT 1 FROM projection_replays WHERE projection = $1", projection) is not None


async def settle(conn: Connection, projection: Replayable, done: Sequence[Partition]) -> bool:
    """Mark partitions replayed; the call that marks the last one of all ends the replay (and
    returns True).

    The request's row lock serialises the workers that split the partitions: the second
    one's count runs after the first one committed, so the last partition is never missed.
    """
    name = projection.name
    if await conn.fetchval("SELECT 1 FROM projection_replays WHERE projection = $1 FOR UPDATE", name) is None:
        return False
    await conn.execute(
        "DELETE FROM projection_replay_partitions WHERE projection = $1 "
        "AND (stream, partition) IN (SELECT * FROM unnest($2::text[], $3::integer[]))",
        name, [d[0] for d in done], [d[1] for d in done],
    )  # fmt: skip
    if await conn.fetchval("SELECT 1 FROM projection_replay_partitions WHERE projection = $1 LIMIT 1", name):
        return False
    await conn.execute("DELETE FROM projection_replays WHERE projection = $1", name)
    await projection.replay_ended(conn)
    return True


async def plan(
    pool: asyncpg.Pool, js: JetStreamContext, *, projection: Replayable, sources: Sequence[Source]
) -> Replay:
    """The replay this start runs over the partitions it owns: none unless one was requested.

    Partitions already at their end (empty, or replayed before a restart) take no part and are
    settled here; if they were the last ones of all, the replay ends here.
    """
    async with pool.acquire() as conn, conn.transaction():
        if not await _list_partitions(conn, projection.name, sources):
            return Replay()
    until: dict[Partition, int] = {}
    for source in sources:
        pending = await pool.fetch(
            "SELECT partition FROM projection_replay_partitions WHERE projection = $1 AND stream = $2 "
            "AND partition = ANY($3::integer[]) ORDER BY partition",
            projection.name, source.stream, list(source.partitions),
        )  # fmt: skip
        reached = await _positions(pool, projection.name, source.stream)
        for partition in (int(r["partition"]) for r in pending):
            last = await _last_seq(js, source.stream, partition_filter(source.subject_prefix, partition))
            if last > reached.get(partition, 0):
                until[(source.stream, partition)] = last
    owned = [(s.stream, p) for s in sources for p in s.partitions]
    async with pool.acquire() as conn, conn.transaction():
        over = await settle(conn, projection, [p for p in owned if p not in until])
    return Replay(projection, until, requested=True, _over=over)


async def _list_partitions(conn: Connection, projection: str, sources: Sequence[Source]) -> bool:
    """Whether a replay was requested; the first start to see the request lists every
    partition of every worker as pending."""
    listed = await conn.fetchval("SELECT listed FROM projection_replays WHERE projection = $1 FOR UPDATE", projection)
    if listed is None:
        return False
    if not listed:
        every = [(s.stream, p) for s in sources for p in s.all_partitions]
        await conn.execute(
            "INSERT INTO projection_replay_partitions (projection, stream, partition) "
            "SELECT $1, s, p FROM unnest($2::text[], $3::integer[]) AS u(s, p) ON CONFLICT DO NOTHING",
            projection, [e[0] for e in every], [e[1] for e in every],
        )  # fmt: skip
        await conn.execute("UPDATE projection_replays SET listed = true WHERE projection = $1", projection)
    return True


async def _positions(pool: asyncpg.Pool, projection: str, stream: str) -> dict[int, int]:
    # '' too: positions stored before they named their stream (runner.adopt_positions).
    rows = await pool.fetch(
        "SELECT partition, max(stream_seq) AS seq FROM projection_positions "
        "WHERE projection = $1 AND stream IN ($2, '') GROUP BY partition",
        projection, stream,
    )  # fmt: skip
    return {int(r["partition"]): int(r["seq"]) for r in rows}


async def _last_seq(js: JetStreamContext, stream: str, subject: str) -> int:
    """The last sequence the stream holds on a subject (0 when none)."""
    try:
        last = await js.get_last_msg(stream, subject)
    except NotFoundError:
        return 0
    return int(last.seq or 0)
