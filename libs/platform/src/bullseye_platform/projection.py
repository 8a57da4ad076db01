"""Exactly-once projections of a partitioned stream into PostgreSQL.

For each fetched batch the runner applies the records that are past the stored position
and stores the new position *in the same transaction*; it acks only after the commit.
A crash before the commit leaves nothing applied and the messages are redelivered; a
crash after it leaves them applied and the redelivery is recognised by its sequence and
skipped. (The `Follower.process_event` idea of the eventsourcing library.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Protocol

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bullseye_platform.eventlog.consumer import LogRecord, PartitionConsumer, partitions_in
from bullseye_platform.instruments.projection import ProjectionInstruments
from bullseye_platform.store.pool import Connection, quote_ident
from bullseye_platform.telemetry import batch_span

log = logging.getLogger(__name__)

# Errors that say "the database is not there right now", not "this record is bad".
TRANSIENT = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.DeadlockDetectedError)


class Projection(Protocol):
    """What a service implements; the runner does the bookkeeping."""

    name: str
    owned_tables: Sequence[str]

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        """Fold `records` (in stream order, never seen before) into the tables."""


def deal(partitions: Sequence[int], readers: int) -> list[list[int]]:
    """`partitions` in `readers` contiguous shares (fewer when there are fewer partitions)."""
    owned = sorted(partitions)
    count = max(1, min(readers, len(owned)))
    return [owned[len(owned) * n // count : len(owned) * (n + 1) // count] for n in range(count)]


class ProjectionRunner:
    """Runs one projection over a set of partitions of a stream.

    Args:
        partitions: the partitions this worker owns (workers split them between them).
        readers: consumers the partitions are dealt to, each applying its batches in its own
            transactions, concurrently with the others. One reader fills its batches best (a
            transaction per batch, whatever its size); several overlap one batch's database
            round trips with another's work when catching up.
        batch_size: records fetched and applied per transaction.
        retry_delay: seconds to wait before retrying a batch the database could not take.
    """

    def __init__(
        self,
        *,
        js: JetStreamContext,
        pool: asyncpg.Pool,
        projection: Projection,
        stream: str,
        subject_prefix: str,
        partitions: Sequence[int],
        readers: int = 1,
        batch_size: int = 256,
        fetch_timeout: float = 1.0,
        retry_delay: float = 1.0,
    ) -> None:
        self._js, self._pool, self._projection = js, pool, projection
        self._batch_size, self._fetch_timeout, self._retry_delay = batch_size, fetch_timeout, retry_delay
        self._consumers = [
            PartitionConsumer(
                js, stream=stream, subject_prefix=subject_prefix, consumer=projection.name, partitions=share,
                ack_all=True,
            )
            for share in deal(partitions, readers)
        ]  # fmt: skip
        self._instruments = ProjectionInstruments(projection.name, stream)

    @property
    def durables(self) -> list[str]:
        """The durable consumers the partitions are read through (their lag is a metric)."""
        return [consumer.durable for consumer in self._consumers]

    async def run(self, stop: asyncio.Event) -> None:
        """Follow every owned partition until `stop` is set."""
        await self._drop_stale_consumers()
        for consumer in self._consumers:
            await self._open(consumer)
        try:
            await asyncio.gather(*(self._follow(c, stop) for c in self._consumers))
        finally:
            for consumer in self._consumers:
                await consumer.close()

    async def _drop_stale_consumers(self) -> None:
        """Delete this projection's durables left by an earlier dealing of partitions we own now.

        Each partition has one owner at a time, so a durable of ours that reads one of our
        partitions under another name is left over (another `readers` count, or the former
        one-per-partition scheme); kept, NATS would track its pending messages forever.
        """
        owned = {p for c in self._consumers for p in c.partitions}
        current = {c.durable for c in self._consumers}
        stream = self._consumers[0].stream
        for info in await self._js.consumers_info(stream):
            name = info.name or ""
            read = partitions_in(name, self._projection.name)
            if name not in current and read and read & owned:
                log.info("projection %s: deleting the stale consumer %s", self._projection.name, name)
                with contextlib.suppress(NotFoundError):
                    await self._js.delete_consumer(stream, name)

    async def _follow(self, consumer: PartitionConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            records = await consumer.fetch(self._batch_size, wait=self._fetch_timeout)
            if records and not await self.process(records):
                await self._rewind(consumer, stop)

    async def _open(self, consumer: PartitionConsumer) -> None:
        """Start delivery right after the lowest stored position of the owned partitions:
        PostgreSQL, not NATS, says where we are; records at or below their partition's
        position are skipped as they come."""
        value = await self._pool.fetchval(
            "SELECT min(coalesce(p.stream_seq, 0)) FROM unnest($2::integer[]) AS owned(partition) "
            "LEFT JOIN projection_positions p ON p.projection = $1 AND p.partition = owned.partition",
            self._projection.name,
            consumer.partitions,
        )
        await consumer.open(after=int(value or 0))

    async def _rewind(self, consumer: PartitionConsumer, stop: asyncio.Event) -> None:
        """After a batch that was not applied, restart delivery at the stored positions.

        The nak'ed batch would come back only after its delay, and JetStream hands out newer
        messages meanwhile: applied first, they would move the position past the batch, whose
        redelivery would then be skipped as already applied, i.e. lost.
        """
        while not stop.is_set():
            await asyncio.sleep(self._retry_delay)
            try:
                await self._open(consumer)
                return
            except TRANSIENT as exc:
                log.warning("projection %s: database still unavailable: %s", self._projection.name, exc)

    async def process(self, records: Sequence[LogRecord]) -> bool:
        """Apply one fetched batch (records of any owned partitions, in stream order) exactly
        once, then ack it.

        The runner's consumer acks cumulatively (AckPolicy.ALL), so acking the batch's last
        record acks the whole batch: one ack per batch, not one per record.
        Returns False, having acked nothing, when the database was unavailable.
        """
        started = time.perf_counter()
        try:
            await self._apply_or_isolate(records)
        except TRANSIENT as exc:
            log.warning("projection %s: database unavailable, will retry: %s", self._projection.name, exc)
            for record in records:
                await record.msg.nak(delay=self._retry_delay)
            return False
        if records:
            await records[-1].msg.ack()
            self._instruments.processed(records, started)
        return True

    async def _apply_or_isolate(self, records: Sequence[LogRecord]) -> None:
        # A separate try: a transient error raised while isolating must reach process()'s
        # handler too, not escape from inside an `except` clause and kill the runner.
        try:
            await self._commit(records)
        except TRANSIENT:
            raise
        except Exception:
            log.exception("projection %s: batch failed, isolating the bad record", self._projection.name)
            await self._isolate(records)

    async def _commit(self, records: Sequence[LogRecord]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            positions = await self._lock_positions(conn, {r.partition for r in records})
            fresh = [r for r in records if r.seq > positions[r.partition]]
            if not fresh:
                return
            with batch_span(f"project {self._projection.name}", [r.headers for r in fresh]):
                await self._projection.apply(conn, fresh)
            await self._store_positions(conn, {r.partition: r.seq for r in fresh})  # the last of each

    async def _isolate(self, records: Sequence[LogRecord]) -> None:
        """Apply records one by one; set aside the ones that fail so the partition moves on."""
        for record in records:
            try:
                await self._commit([record])
            except TRANSIENT:
                raise
            except Exception as exc:
                await self._dead_letter(record, exc)

    async def _dead_letter(self, record: LogRecord, exc: Exception) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            positions = await self._lock_positions(conn, {record.partition})
            if record.seq <= positions[record.partition]:
                return
            await conn.execute(
                "INSERT INTO projection_dead_letters (projection, partition, stream_seq, subject, error) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                self._projection.name, record.partition, record.seq, record.subject, repr(exc)[:2000],
            )  # fmt: skip
            await self._store_positions(conn, {record.partition: record.seq})
        self._instruments.dead_lettered(record)
        log.error("projection %s: record %d set aside: %r", self._projection.name, record.seq, exc)

    async def _lock_positions(self, conn: Connection, partitions: set[int]) -> dict[int, int]:
        # FOR UPDATE, in partition order: two workers that both think they own a partition
        # (during a rebalance) serialise here, and the second one sees the first one's position.
        owned = sorted(partitions)
        positions = await self._select_positions(conn, owned)
        if len(positions) < len(owned):  # a partition's first batch (rows are made once)
            await conn.execute(
                "INSERT INTO projection_positions (projection, partition) "
                "SELECT $1, p FROM unnest($2::integer[]) AS p ON CONFLICT DO NOTHING",
                self._projection.name,
                owned,
            )
            positions = await self._select_positions(conn, owned)
        return positions

    async def _select_positions(self, conn: Connection, owned: list[int]) -> dict[int, int]:
        rows = await conn.fetch(
            "SELECT partition, stream_seq FROM projection_positions WHERE projection = $1 "
            "AND partition = ANY($2::integer[]) ORDER BY partition FOR UPDATE",
            self._projection.name,
            owned,
        )
        return {int(r["partition"]): int(r["stream_seq"]) for r in rows}

    async def _store_positions(self, conn: Connection, reached: dict[int, int]) -> None:
        await conn.execute(
            "UPDATE projection_positions AS p SET stream_seq = r.seq, updated_at = now() "
            "FROM unnest($2::integer[], $3::bigint[]) AS r(partition, seq) "
            "WHERE p.projection = $1 AND p.partition = r.partition",
            self._projection.name,
            list(reached),
            list(reached.values()),
        )

    async def reset(self) -> None:
        """Forget everything this projection built: positions, owned tables, NATS consumers.

        The next `run()` replays the stream from the start; the result must equal the live one.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            tables = ", ".join(quote_ident(t) for t in self._projection.owned_tables)
            if tables:
                await conn.execute(f"TRUNCATE {tables}")
            await conn.execute("DELETE FROM projection_positions WHERE projection = $1", self._projection.name)
            await conn.execute("DELETE FROM projection_dead_letters WHERE projection = $1", self._projection.name)
        for consumer in self._consumers:
            await consumer.delete()
