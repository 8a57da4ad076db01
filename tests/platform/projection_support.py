"""Helpers of the projection tests: publish partitioned events, run until caught up, dump tables."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
from bullseye_platform.eventlog import LogMessage, LogWriter, StreamSpec, partition_of, subject_for
from bullseye_platform.projection import ProjectionRunner
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

PARTITIONS = 4


async def publish(nc: NATS, js: JetStreamContext, spec: StreamSpec, count: int, *, start: int = 0) -> dict[int, int]:
    """Append events evt-<start> .. evt-<start + count - 1>, keyed over a few hundred people.

    Returns the last seq of each partition.
    """
    writer = LogWriter(nc)
    numbers = range(start, start + count)
    partitions = [partition_of(f"person-{i % 301}", PARTITIONS) for i in numbers]
    messages = [
        LogMessage(
            subject=subject_for(spec.subject_prefix, p, "test_event"), payload=str(i).encode(), msg_id=f"evt-{i}"
        )
        for i, p in zip(numbers, partitions, strict=True)
    ]
    appended = await writer.append(messages)
    await writer.close()
    ends: dict[int, int] = {}
    for partition, where in zip(partitions, appended, strict=True):
        ends[partition] = max(ends.get(partition, 0), where.seq)
    return ends


async def positions(pool: asyncpg.Pool, projection: str) -> dict[int, int]:
    rows = await pool.fetch("SELECT partition, stream_seq FROM projection_positions WHERE projection = $1", projection)
    return {r["partition"]: r["stream_seq"] for r in rows}


async def caught_up(pool: asyncpg.Pool, projection: str, ends: dict[int, int]) -> bool:
    reached = await positions(pool, projection)
    return all(reached.get(partition, 0) >= end for partition, end in ends.items())


async def run_until_caught_up(
    runner: ProjectionRunner, pool: asyncpg.Pool, projection: str, ends: dict[int, int], *, within: float = 30.0
) -> None:
    """Run `runner` until every partition's stored position reaches its end, then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        async with asyncio.timeout(within):
            while not await caught_up(pool, projection, ends):
                if task.done():
                    task.result()  # a runner that died says why
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task


@dataclass(frozen=True)
class Tables:
    """Everything the counting projection built, in a comparable form."""

    applied: list[tuple[int, str]]
    total: int | None
    dead_letters: list[tuple[int, int, str]]

    @property
    def most_applications_of_one_msg(self) -> int:
        counts: dict[str, int] = {}
        for _, msg_id in self.applied:
            counts[msg_id] = counts.get(msg_id, 0) + 1
        return max(counts.values(), default=0)


async def dump(pool: asyncpg.Pool, projection: str = "counting") -> Tables:
    applied = await pool.fetch("SELECT seq, msg_id FROM applied ORDER BY seq, msg_id")
    dead = await pool.fetch(
        "SELECT partition, stream_seq, subject FROM projection_dead_letters WHERE projection = $1 ORDER BY stream_seq",
        projection,
    )
    return Tables(
        applied=[(r["seq"], r["msg_id"]) for r in applied],
        total=await pool.fetchval("SELECT n FROM totals WHERE id = 1"),
        dead_letters=[(r["partition"], r["stream_seq"], r["subject"]) for r in dead],
    )


async def in_a_transaction(pool: asyncpg.Pool, schema: str) -> bool:
    """Whether the process working on `schema` holds a transaction open right now (its pool
    names its connections after the schema): where a kill proves the most."""
    return bool(
        await pool.fetchval(
            "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = $1 AND xact_start IS NOT NULL "
            "AND state <> 'idle'",
            f"bullseye-{schema}",
        )
    )
