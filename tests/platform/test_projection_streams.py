"""ProjectionRunner over several streams, and replays without side effects."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
from bullseye_platform import replay
from bullseye_platform.eventlog import LogMessage, LogRecord, LogWriter, StreamSpec, subject_for
from bullseye_platform.projection import ProjectionRunner, Source, caught_up
from bullseye_platform.store.pool import Connection
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from tests.platform.projection_support import PARTITIONS, dump, publish
from tests.platform.projection_worker import CountingProjection
from tests.platform.waiting import wait_until

ALL = list(range(PARTITIONS))


class LoudProjection(CountingProjection):
    """Counts records like its parent; a live batch also "announces" them (`announced`, the
    side effect a replay must not repeat), and the end of a replay is counted in totals id 2."""

    def __init__(self) -> None:
        super().__init__()
        self.announced: list[str] = []

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        await super().apply(conn, records)
        self.announced.extend(r.msg_id for r in records)

    async def apply_quietly(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        await super().apply(conn, records)

    async def replay_ended(self, conn: Connection) -> None:
        await conn.execute("INSERT INTO totals (id, n) VALUES (2, 1) ON CONFLICT (id) DO UPDATE SET n = totals.n + 1")


async def stored_positions(pool: asyncpg.Pool, projection: str = "counting") -> dict[tuple[str, int], int]:
    rows = await pool.fetch(
        "SELECT stream, partition, stream_seq FROM projection_positions WHERE projection = $1", projection
    )
    return {(r["stream"], r["partition"]): r["stream_seq"] for r in rows}


async def run_until(runner: ProjectionRunner, pool: asyncpg.Pool, ends: dict[tuple[str, int], int]) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        await until_stored(task, pool, ends)
    finally:
        stop.set()
        await task


async def until_stored(task: asyncio.Task[None], pool: asyncpg.Pool, ends: dict[tuple[str, int], int]) -> None:
    """Until the running runner `task` stored positions at `ends`."""

    async def reached() -> bool:
        if task.done():
            task.result()  # a runner that died says why
        at = await stored_positions(pool)
        return all(at.get(key, 0) >= end for key, end in ends.items())

    await wait_until(reached)


def keyed(stream: StreamSpec, ends: dict[int, int]) -> dict[tuple[str, int], int]:
    return {(stream.name, p): seq for p, seq in ends.items()}


def runner(
    js: JetStreamContext, pool: asyncpg.Pool, projection: CountingProjection, sources: Sequence[Source],
    plan: replay.Replay | None = None,
) -> ProjectionRunner:  # fmt: skip
    return ProjectionRunner(js=js, pool=pool, projection=projection, sources=sources, replay=plan, readers=2,
                            batch_size=50, fetch_timeout=0.2, retry_delay=0.2)  # fmt: skip


def source(stream: StreamSpec, partitions: Sequence[int] = ALL) -> Source:
    return Source(stream.name, stream.subject_prefix, partitions, every=ALL)


async def test_a_projection_of_two_streams_applies_each_record_once_and_keeps_positions_per_stream(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, other_stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    first = await publish(nc, js, stream, 300)
    second = await publish(nc, js, other_stream, 200, start=1000)

    await run_until(runner(js, pool, CountingProjection(), [source(stream), source(other_stream)]), pool,
                    {**keyed(stream, first), **keyed(other_stream, second)})  # fmt: skip

    tables = await dump(pool)
    assert {m for _, m in tables.applied} == {f"evt-{i}" for i in [*range(300), *range(1000, 1200)]}
    assert tables.most_applications_of_one_msg == 1 and tables.total == 500
    assert await stored_positions(pool) == {**keyed(stream, first), **keyed(other_stream, second)}


async def test_positions_stored_before_they_named_a_stream_are_taken_over_by_a_one_stream_runner(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    ends = await publish(nc, js, stream, 100)
    await pool.executemany(  # what migration 0005 left of a projection that ran before it
        "INSERT INTO projection_positions (projection, stream, partition, stream_seq) VALUES ('counting', '', $1, $2)",
        list(ends.items()),
    )
    more = await publish(nc, js, stream, 50, start=100)

    await run_until(runner(js, pool, CountingProjection(), [source(stream)]), pool, keyed(stream, more))

    assert {m for _, m in (await dump(pool)).applied} == {f"evt-{i}" for i in range(100, 150)}
    assert set(await stored_positions(pool)) == {(stream.name, p) for p in more}


async def request_replay(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await replay.request(conn, "counting")


async def replay_over(pool: asyncpg.Pool) -> bool:
    return not await pool.fetchval("SELECT count(*) FROM projection_replays")


async def ends_counted(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT coalesce((SELECT n FROM totals WHERE id = 2), 0)"))


async def test_a_replay_applies_the_log_quietly_ends_once_and_then_announces_what_comes_live(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    ends = await publish(nc, js, stream, 400)
    live = LoudProjection()
    await run_until(runner(js, pool, live, [source(stream)]), pool, keyed(stream, ends))
    assert len(live.announced) == 400
    before = await dump(pool)
    await runner(js, pool, live, [source(stream)]).reset()
    await request_replay(pool)

    replayed = LoudProjection()
    plan = await replay.plan(pool, js, projection=replayed, sources=[source(stream)])
    stop = asyncio.Event()
    running = asyncio.create_task(runner(js, pool, replayed, [source(stream)], plan).run(stop))
    try:
        await wait_until(lambda: replay_over(pool))
        later = await publish(nc, js, stream, 30, start=400)

        async def announced() -> bool:
            return len(replayed.announced) == 30

        await wait_until(announced)
    finally:
        stop.set()
        await running

    assert sorted(replayed.announced) == sorted(f"evt-{i}" for i in range(400, 430)), "only what came live"
    assert await ends_counted(pool) == 1
    tables = await dump(pool)
    assert tables.most_applications_of_one_msg == 1 and tables.total == 430
    assert [a for a in tables.applied if a[1] in {m for _, m in before.applied}] == before.applied
    assert set(keyed(stream, later)) <= set(await stored_positions(pool))


async def test_a_replay_read_its_own_way_hands_over_to_the_live_reading_once_replayed(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    await publish(nc, js, stream, 400)
    await request_replay(pool)
    projection = LoudProjection()
    plan = await replay.plan(pool, js, projection=projection, sources=[source(stream)])
    runner = ProjectionRunner(js=js, pool=pool, projection=projection, sources=[source(stream)], replay=plan,
                              readers=1, batch_size=50, replay_readers=PARTITIONS, replay_batch_size=200,
                              fetch_timeout=0.2, retry_delay=0.2)  # fmt: skip
    live_reader = {"counting-p0-1-2-3"}
    assert set(runner.durables(stream.name)) == {f"counting-p{p}" for p in ALL}, "a reader per partition replays"

    async def consumers() -> set[str]:
        return {c.name or "" for c in await js.consumers_info(stream.name)}

    async def read_live() -> bool:
        return await replay_over(pool) and await consumers() == live_reader

    stop = asyncio.Event()
    running = asyncio.create_task(runner.run(stop))
    try:
        await wait_until(read_live)
        assert set(runner.durables(stream.name)) == live_reader
        later = await publish(nc, js, stream, 30, start=400)
        await wait_until(lambda: _reached(pool, stream, later))
    finally:
        stop.set()
        await running

    assert sorted(projection.announced) == sorted(f"evt-{i}" for i in range(400, 430)), "read by the live reader"
    tables = await dump(pool)
    assert tables.most_applications_of_one_msg == 1 and tables.total == 430
    assert await ends_counted(pool) == 1


async def test_a_replay_split_between_workers_stays_quiet_until_the_last_one_reaches_its_ends(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    ends = await publish(nc, js, stream, 400)
    assert set(ends) == set(ALL)
    await request_replay(pool)
    halves = (ALL[:2], ALL[2:])
    first, second = LoudProjection(), LoudProjection()
    first_plan = await replay.plan(pool, js, projection=first, sources=[source(stream, halves[0])])

    stop = asyncio.Event()
    running = asyncio.create_task(runner(js, pool, first, [source(stream, halves[0])], first_plan).run(stop))
    try:
        await wait_until(lambda: _reached(pool, stream, {p: ends[p] for p in halves[0]}))
        # Live records of the first worker's partitions, while the second one has not replayed:
        # a side effect decided now would see half a log.
        extra = await publish(nc, js, stream, 120, start=400)
        await wait_until(lambda: _reached(pool, stream, {p: s for p, s in extra.items() if p in halves[0]}))
        assert first.announced == [] and await ends_counted(pool) == 0 and not await replay_over(pool)

        second_plan = await replay.plan(pool, js, projection=second, sources=[source(stream, halves[1])])
        await run_until(runner(js, pool, second, [source(stream, halves[1])], second_plan), pool,
                        keyed(stream, {p: s for p, s in extra.items() if p in halves[1]}))  # fmt: skip
        assert await replay_over(pool) and await ends_counted(pool) == 1
    finally:
        stop.set()
        await running

    tables = await dump(pool)
    assert tables.most_applications_of_one_msg == 1 and tables.total == 520
    assert second.announced == [], "everything it applied was written before its start: replayed"


async def _reached(pool: asyncpg.Pool, stream: StreamSpec, ends: dict[int, int]) -> bool:
    at = await stored_positions(pool)
    return all(at.get((stream.name, p), 0) >= seq for p, seq in ends.items())


class CausedProjection(CountingProjection):
    """Reads a stream of causes and one of effects, each effect naming its cause as
    "<partition>:<seq>" of the causes' stream: applying an effect waits for its cause
    (`caught_up`) and notes whether the cause was applied by then (`saw_cause`)."""

    def __init__(self, causes: str, *, within: float) -> None:
        super().__init__()
        self._causes, self._within = causes, within
        self.waiting = asyncio.Event()  # an effect's apply started waiting
        self.saw_cause: list[bool] = []

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        if records[0].stream != self._causes:
            for record in records:
                partition, seq = (int(part) for part in record.data.decode().split(":"))
                self.waiting.set()
                await caught_up(conn, self.name, self._causes, {partition: seq}, within=self._within)
                self.saw_cause.append(bool(await conn.fetchval("SELECT count(*) FROM applied WHERE msg_id = 'cause'")))
        await super().apply(conn, records)


async def append(nc: NATS, spec: StreamSpec, partition: int, msg_id: str, payload: str) -> int:
    writer = LogWriter(nc)
    try:
        subject = subject_for(spec.subject_prefix, partition, "test_event")
        [where] = await writer.append([LogMessage(subject=subject, payload=payload.encode(), msg_id=msg_id)])
    finally:
        await writer.close()
    return where.seq


async def test_a_record_that_arrives_before_its_cause_on_another_stream_waits_for_it(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, other_stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    causes, effects = stream, other_stream
    cause_seq = (await js.stream_info(causes.name)).state.last_seq + 1
    effect_seq = await append(nc, effects, 2, "effect", f"1:{cause_seq}")
    projection = CausedProjection(causes.name, within=120)
    stop = asyncio.Event()
    running = asyncio.create_task(runner(js, pool, projection, [source(causes), source(effects)]).run(stop))
    try:
        await asyncio.wait_for(projection.waiting.wait(), 60)  # the effect is being applied, its cause not yet sent
        assert await append(nc, causes, 1, "cause", "") == cause_seq
        await until_stored(running, pool, {(effects.name, 2): effect_seq})
    finally:
        stop.set()
        await running

    assert projection.saw_cause == [True]
    assert (await dump(pool)).most_applications_of_one_msg == 1


async def test_a_cause_that_never_comes_holds_a_record_only_as_long_as_the_bound(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, other_stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    effect_seq = await append(nc, other_stream, 0, "effect", "3:1000000")
    projection = CausedProjection(stream.name, within=0.2)

    await run_until(runner(js, pool, projection, [source(stream), source(other_stream)]), pool,
                    {(other_stream.name, 0): effect_seq})  # fmt: skip

    assert projection.saw_cause == [False]
