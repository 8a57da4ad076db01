"""A rebuild's replay: fold RESOLVED without refreshing segment membership, then sweep once.

Refreshing memberships per batch while replaying the whole log costs a profile load per
person per batch (most of a rebuild's time) and would re-announce entries that campaigns
already acted on. So `rebuild` leaves a durable marker (table `profile_replay`); at start the
profile process reads, for each partition it owns, the last sequence RESOLVED holds now;
batches at or below it skip the refresh. Several processes may split the partitions, so the
partitions still replaying are rows (`profile_replay_partitions`): each process deletes its
own as they reach their targets, and the transaction that deletes the last one (of any
process) clears the marker and makes the membership sweep due. Records after the target
are live and refreshed as usual. A process killed mid-replay finds the marker again and
replays the rest the same way. The same transaction makes the RFM recompute due, so scores
are computed over the whole journal rather than over the first batches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg
from bullseye_platform.eventlog import LogRecord, partition_filter
from bullseye_platform.store.pool import Connection
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bullseye_profile.segments import store as membership

# Makes the membership sweep due now (what RecomputeWorker.request_sweep does, but in the
# caller's transaction, so the sweep cannot start before the replay's last batch commits).
SWEEP_NOW = "UPDATE segment_sweep_schedule SET next_run_at = '-infinity' WHERE id = 1"
RFM_NOW = "UPDATE rfm_schedule SET next_run_at = '-infinity' WHERE id = 1"


async def request(conn: Connection, partitions: Sequence[int]) -> None:
    """Ask the next start to replay every partition without refreshing (called by `rebuild`)."""
    await conn.execute("INSERT INTO profile_replay (id) VALUES (1) ON CONFLICT DO NOTHING")
    await conn.executemany(
        "INSERT INTO profile_replay_partitions (partition) VALUES ($1) ON CONFLICT DO NOTHING",
        [(p,) for p in partitions],
    )


@dataclass
class Replay:
    """Where the replay ends in each partition; empty when no replay was asked for."""

    until: Mapping[int, int] = field(default_factory=dict)
    _reached: set[int] = field(default_factory=set)

    @property
    def active(self) -> bool:
        return bool(self.until) and not self._reached >= set(self.until)

    def covers(self, records: Sequence[LogRecord]) -> bool:
        """True when the whole batch is part of the replay (no membership refresh)."""
        return all(r.seq <= self.until.get(r.partition, 0) for r in records)

    async def advance(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        """Note partitions reaching their end; the batch that completes the replay ends it.

        Holds the membership lock shared like a refresh does, so the sweep (which takes it
        exclusively first) waits for replay batches still committing.
        """
        # Only a batch that holds a partition's target: the ones after it are live. A batch
        # whose transaction failed comes again with the same records and ends it again.
        ended = sorted({r.partition for r in records if r.seq == self.until.get(r.partition)} - self._reached)
        if not ended:
            return
        await membership.lock_shared(conn)
        self._reached.update(ended)
        await settle(conn, ended)


async def settle(conn: Connection, partitions: Sequence[int]) -> None:
    """Mark partitions replayed; the call that marks the last one of all ends the replay.

    The marker's row lock serialises the processes that split the partitions: the second
    one's count runs after the first one committed, so the last partition is never missed.
    """
    if await conn.fetchval("SELECT 1 FROM profile_replay WHERE id = 1 FOR UPDATE") is None:
        return
    await conn.execute("DELETE FROM profile_replay_partitions WHERE partition = ANY($1::integer[])", list(partitions))
    if await conn.fetchval("SELECT 1 FROM profile_replay_partitions LIMIT 1") is None:
        await finish(conn)


async def finish(conn: Connection) -> None:
    """The replay is over: memberships are swept, and RFM scores recomputed over the whole
    journal (not over the part replayed when the process started)."""
    await conn.execute("DELETE FROM profile_replay")
    await conn.execute("DELETE FROM profile_replay_partitions")
    await conn.execute(SWEEP_NOW)
    await conn.execute(RFM_NOW)


async def plan(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    *,
    projection: str,
    stream: str,
    subject_prefix: str,
    partitions: Sequence[int],
) -> Replay:
    """The replay this process runs at this start, over the partitions it owns: none unless
    `rebuild` asked for one.

    Partitions already at their end (empty, or replayed before a restart) take no part and are
    marked replayed here; if they were the last ones of all, the replay ends here (sweep due).
    """
    if await pool.fetchval("SELECT 1 FROM profile_replay") is None:
        return Replay()
    pending = await pool.fetch(
        "SELECT partition FROM profile_replay_partitions WHERE partition = ANY($1::integer[])", list(partitions)
    )
    rows = await pool.fetch("SELECT partition, stream_seq FROM projection_positions WHERE projection = $1", projection)
    reached = {r["partition"]: int(r["stream_seq"]) for r in rows}
    until = {}
    for partition in sorted(int(r["partition"]) for r in pending):
        last = await _last_seq(js, stream, partition_filter(subject_prefix, partition))
        if last > reached.get(partition, 0):
            until[partition] = last
    async with pool.acquire() as conn, conn.transaction():
        await settle(conn, [p for p in partitions if p not in until])
    return Replay(until)


async def _last_seq(js: JetStreamContext, stream: str, subject: str) -> int:
    """The last sequence the stream holds on a subject (0 when none)."""
    try:
        last = await js.get_last_msg(stream, subject)
    except NotFoundError:
        return 0
    return int(last.seq or 0)
