"""ProjectionRunner: exactly-once application of a partitioned stream into PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import pytest
from bullseye_platform.eventlog import LogRecord, PartitionConsumer, StreamSpec
from bullseye_platform.eventlog.subjects import ALL_PARTITIONS
from bullseye_platform.projection import ProjectionRunner, deal
from bullseye_platform.store.pool import Connection
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from tests.platform.projection_support import PARTITIONS, dump, positions, publish, run_until_caught_up
from tests.platform.projection_worker import CountingProjection, build_runner

ALL = list(range(PARTITIONS))


class FlakyProjection(CountingProjection):
    """Loses its database connection in the middle of its first batch."""

    def __init__(self) -> None:
        super().__init__()
        self.failures_left = 1

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        await super().apply(conn, records[:1])
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionResetError("connection to the database was lost")
        await super().apply(conn, records[1:])


class OutageWhileIsolating(CountingProjection):
    """Has one bad record, and loses the database while the runner isolates it."""

    def __init__(self) -> None:
        super().__init__(poison={"evt-5"})
        self.outages_left = 1

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        if len(records) == 1 and self.outages_left:
            self.outages_left -= 1
            raise ConnectionRefusedError("the database is restarting")
        await super().apply(conn, records)


async def fetch_all(js: JetStreamContext, spec: StreamSpec, partition: int, end: int) -> list[LogRecord]:
    """Every record of one partition up to stream sequence `end`, read through a separate consumer."""
    probe = PartitionConsumer(
        js, stream=spec.name, subject_prefix=spec.subject_prefix, consumer="probe", partitions=[partition]
    )
    await probe.open()
    records: list[LogRecord] = []
    while not records or records[-1].seq < end:
        records.extend(await probe.fetch(500, wait=1.0))
    await probe.delete()
    return records


def runner_for(
    js: JetStreamContext, pool: asyncpg.Pool, stream: StreamSpec, projection: CountingProjection, *, readers: int = 2
) -> ProjectionRunner:
    """A runner of `projection` over every partition of the test's stream."""
    return build_runner(
        js, pool, projection, stream=stream.name, prefix=stream.subject_prefix, partitions=ALL, readers=readers
    )


def test_partitions_are_dealt_in_contiguous_shares_and_never_to_an_idle_reader() -> None:
    assert deal(range(16), 2) == [list(range(8)), list(range(8, 16))]
    assert deal([5, 1, 3], 2) == [[1], [3, 5]]
    assert deal(range(3), 5) == [[0], [1], [2]]
    assert deal([ALL_PARTITIONS], 4) == [[ALL_PARTITIONS]]


@pytest.mark.parametrize("readers", [1, 3])
async def test_every_published_event_is_applied_exactly_once(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool, readers: int
) -> None:
    ends = await publish(nc, js, stream, 600)
    runner = runner_for(js, pool, stream, CountingProjection(), readers=readers)

    await run_until_caught_up(runner, pool, "counting", ends)

    tables = await dump(pool)
    assert len(ends) == PARTITIONS
    assert {msg_id for _, msg_id in tables.applied} == {f"evt-{i}" for i in range(600)}
    assert tables.most_applications_of_one_msg == 1
    assert tables.total == 600
    assert await positions(pool, "counting") == ends


async def test_a_restarted_runner_carries_on_from_its_stored_position(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    first = await publish(nc, js, stream, 200)
    runner = runner_for(js, pool, stream, CountingProjection())
    await run_until_caught_up(runner, pool, "counting", first)

    later = await publish(nc, js, stream, 300, start=200)
    restarted = runner_for(js, pool, stream, CountingProjection())
    await run_until_caught_up(restarted, pool, "counting", later)

    tables = await dump(pool)
    assert {msg_id for _, msg_id in tables.applied} == {f"evt-{i}" for i in range(500)}
    assert tables.most_applications_of_one_msg == 1
    assert tables.total == 500


async def test_a_redelivered_batch_at_or_below_the_stored_position_is_skipped(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    ends = await publish(nc, js, stream, 200)
    runner = runner_for(js, pool, stream, CountingProjection())
    await run_until_caught_up(runner, pool, "counting", ends)
    before = await dump(pool)

    for partition, end in ends.items():
        assert await runner.process(await fetch_all(js, stream, partition, end))

    assert await dump(pool) == before
    assert before.total == 200


async def test_a_runner_deletes_its_consumers_left_from_an_earlier_dealing_of_its_partitions(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    ends = await publish(nc, js, stream, 100)
    half = ALL[: PARTITIONS // 2]
    assert half == [0, 1], "the names below assume 4 partitions"
    left = {"counting-p0-1": [0, 1], "counting-p1-2": [1, 2]}  # read ours: all of them, or in part
    kept = {"counting-p3": [3], "other-p0": [0]}  # another worker's partition; another projection
    for name, partitions in {**left, **kept}.items():
        consumer, _, _ = name.partition("-p")
        await PartitionConsumer(
            js, stream=stream.name, subject_prefix=stream.subject_prefix, consumer=consumer, partitions=partitions
        ).open()
    runner = build_runner(
        js, pool, CountingProjection(), stream=stream.name, prefix=stream.subject_prefix, partitions=half, readers=2
    )

    await run_until_caught_up(runner, pool, "counting", {p: ends[p] for p in half if p in ends})

    names = {c.name for c in await js.consumers_info(stream.name)}
    assert names >= set(kept), "what belongs to others stays"
    assert not names & set(left), "what was ours under another name is gone"
    assert {n for n in names if n.startswith("counting-")} == {"counting-p0", "counting-p1", "counting-p3"}


async def test_a_consumer_left_by_a_crashed_worker_cannot_make_the_runner_skip_its_uncommitted_batch(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    # The crashed worker fetched a batch and died before its commit: JetStream holds that
    # batch for ack_wait and meanwhile hands newer messages to whoever fetches next.
    ends = await publish(nc, js, stream, 400)
    crashed = PartitionConsumer(
        js, stream=stream.name, subject_prefix=stream.subject_prefix, consumer="counting", partitions=deal(ALL, 2)[0]
    )  # the durable consumer of the runner's first reader
    await crashed.open()
    assert await crashed.fetch(20, wait=1.0)
    await crashed.close()
    runner = runner_for(js, pool, stream, CountingProjection())

    await run_until_caught_up(runner, pool, "counting", ends)

    tables = await dump(pool)
    assert len(tables.applied) == 400
    assert tables.most_applications_of_one_msg == 1
    assert tables.total == 400


async def test_a_batch_that_failed_transiently_is_retried_before_any_later_record(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    ends = await publish(nc, js, stream, 400)
    runner = runner_for(js, pool, stream, FlakyProjection())

    await run_until_caught_up(runner, pool, "counting", ends)

    tables = await dump(pool)
    assert len(tables.applied) == 400
    assert tables.most_applications_of_one_msg == 1
    assert tables.total == 400
    assert tables.dead_letters == []


async def test_a_record_that_cannot_be_applied_is_set_aside_and_its_partition_moves_on(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    ends = await publish(nc, js, stream, 300)
    poisoned = CountingProjection(poison={"evt-123"})
    runner = runner_for(js, pool, stream, poisoned)

    await run_until_caught_up(runner, pool, "counting", ends)

    tables = await dump(pool)
    assert {msg_id for _, msg_id in tables.applied} == {f"evt-{i}" for i in range(300)} - {"evt-123"}
    assert tables.most_applications_of_one_msg == 1
    assert tables.total == 299
    [(partition, seq, subject)] = tables.dead_letters
    assert ((await js.get_msg(stream.name, seq)).headers or {})["Nats-Msg-Id"] == "evt-123"
    assert subject.startswith(f"{stream.subject_prefix}.{partition}.")
    error = await pool.fetchval("SELECT error FROM projection_dead_letters WHERE stream_seq = $1", seq)
    assert "PoisonRecord" in error and "evt-123" in error
    assert await positions(pool, "counting") == ends


async def test_a_database_outage_while_isolating_a_bad_record_does_not_stop_the_runner(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    ends = await publish(nc, js, stream, 200)
    runner = runner_for(js, pool, stream, OutageWhileIsolating())

    await run_until_caught_up(runner, pool, "counting", ends)

    tables = await dump(pool)
    assert {msg_id for _, msg_id in tables.applied} == {f"evt-{i}" for i in range(200)} - {"evt-5"}
    assert tables.most_applications_of_one_msg == 1
    assert len(tables.dead_letters) == 1


async def test_reset_then_replay_rebuilds_identical_tables(
    nc: NATS, js: JetStreamContext, stream: StreamSpec, pool: asyncpg.Pool
) -> None:
    ends = await publish(nc, js, stream, 500)
    projection = CountingProjection(poison={"evt-7"})
    runner = runner_for(js, pool, stream, projection)
    await run_until_caught_up(runner, pool, "counting", ends)
    live = await dump(pool)

    await runner.reset()
    emptied = await dump(pool)
    await run_until_caught_up(runner, pool, "counting", ends)

    assert emptied.applied == [] and emptied.total is None and emptied.dead_letters == []
    assert await dump(pool) == live
    assert len(live.applied) == 499 and len(live.dead_letters) == 1
