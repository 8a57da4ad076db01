"""Exactly-once projections of a partitioned stream into PostgreSQL.

For each fetched batch the runner applies the records that are past the stored position
and stores the new position *in the same transaction*; it acks only after the commit.
A crash before the commit leaves nothing applied and the messages are redelivered; a
crash after it leaves them applied and the redelivery is recognised by its sequence and
skipped. (The `Follower.process_event` idea of the eventsourcing library.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

import asyncpg
from nats.js import JetStreamContext

from bullseye_platform.eventlog.consumer import LogRecord, PartitionConsumer
from bullseye_platform.store.pool import Connection, quote_ident
from bullseye_platform.telemetry import continued_span

log = logging.getLogger(__name__)

# Errors that say "the database is not there right now", not "this record is bad".
TRANSIENT = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.DeadlockDetectedError)


class Projection(Protocol):
    """What a service implements; the runner does the bookkeeping."""

    name: str
    owned_tables: Sequence[str]

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        """Fold `records` (in stream order, never seen before) into the tables."""


class ProjectionRunner:
    """Runs one projection over a set of partitions of a stream.

    Args:
        partitions: the partitions this worker owns (workers split them between them).
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
        batch_size: int = 256,
        fetch_timeout: float = 1.0,
        retry_delay: float = 1.0,
    ) -> None:
        self._js, self._pool, self._projection = js, pool, projection
        self._batch_size, self._fetch_timeout, self._retry_delay = batch_size, fetch_timeout, retry_delay
        self._consumers = [
            PartitionConsumer(
                js, stream=stream, subject_prefix=subject_prefix, consumer=projection.name, partition=p, ack_all=True
            )
            for p in partitions
        ]

    async def run(self, stop: asyncio.Event) -> None:
        """Follow every owned partition until `stop` is set."""
        for consumer in self._consumers:
            await self._open(consumer)
        try:
            await asyncio.gather(*(self._follow(c, stop) for c in self._consumers))
        finally:
            for consumer in self._consumers:
                await consumer.close()

    async def _follow(self, consumer: PartitionConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            records = await consumer.fetch(self._batch_size, wait=self._fetch_timeout)
            if records and not await self.process(consumer.partition, records):
                await self._rewind(consumer, stop)

    async def _open(self, consumer: PartitionConsumer) -> None:
        """Start delivery right after the stored position: PostgreSQL, not NATS, says where we are."""
        value = await self._pool.fetchval(
            "SELECT stream_seq FROM projection_positions WHERE projection = $1 AND partition = $2",
            self._projection.name,
            consumer.partition,
        )
        await consumer.open(after=int(value or 0))

    async def _rewind(self, consumer: PartitionConsumer, stop: asyncio.Event) -> None:
        """After a batch that was not applied, restart delivery at the stored position.

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

    async def process(self, partition: int, records: Sequence[LogRecord]) -> bool:
        """Apply one fetched batch exactly once, then ack it.

        The runner's consumers ack cumulatively (AckPolicy.ALL), so acking the batch's last
        record acks the whole batch: one ack per batch, not one per record.
        Returns False, having acked nothing, when the database was unavailable.
        """
        try:
            await self._apply_or_isolate(partition, records)
        except TRANSIENT as exc:
            log.warning("projection %s: database unavailable, will retry: %s", self._projection.name, exc)
            for record in records:
                await record.msg.nak(delay=self._retry_delay)
            return False
        if records:
            await records[-1].msg.ack()
        return True

    async def _apply_or_isolate(self, partition: int, records: Sequence[LogRecord]) -> None:
        # A separate try: a transient error raised while isolating must reach process()'s
        # handler too, not escape from inside an `except` clause and kill the runner.
        try:
            await self._commit(partition, records)
        except TRANSIENT:
            raise
        except Exception:
            log.exception("projection %s: batch failed, isolating the bad record", self._projection.name)
            await self._isolate(partition, records)

    async def _commit(self, partition: int, records: Sequence[LogRecord]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            position = await self._lock_position(conn, partition)
            fresh = [r for r in records if r.seq > position]
            if not fresh:
                return
            with continued_span(f"project {self._projection.name}", fresh[-1].headers, partition=str(partition)):
                await self._projection.apply(conn, fresh)
            await self._store_position(conn, partition, fresh[-1].seq)

    async def _isolate(self, partition: int, records: Sequence[LogRecord]) -> None:
        """Apply records one by one; set aside the ones that fail so the partition moves on."""
        for record in records:
            try:
                await self._commit(partition, [record])
            except TRANSIENT:
                raise
            except Exception as exc:
                await self._dead_letter(partition, record, exc)

    async def _dead_letter(self, partition: int, record: LogRecord, exc: Exception) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            position = await self._lock_position(conn, partition)
            if record.seq <= position:
                return
            await conn.execute(
                "INSERT INTO projection_dead_letters (projection, partition, stream_seq, subject, error) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                self._projection.name, partition, record.seq, record.subject, repr(exc)[:2000],
            )  # fmt: skip
            await self._store_position(conn, partition, record.seq)
        log.error("projection %s: record %d set aside: %r", self._projection.name, record.seq, exc)

    async def _lock_position(self, conn: Connection, partition: int) -> int:
        # FOR UPDATE: two workers that both think they own a partition (during a rebalance)
        # serialise here, and the second one sees the first one's position.
        await conn.execute(
            "INSERT INTO projection_positions (projection, partition) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            self._projection.name,
            partition,
        )
        value = await conn.fetchval(
            "SELECT stream_seq FROM projection_positions WHERE projection = $1 AND partition = $2 FOR UPDATE",
            self._projection.name,
            partition,
        )
        return int(value)

    async def _store_position(self, conn: Connection, partition: int, seq: int) -> None:
        await conn.execute(
            "UPDATE projection_positions SET stream_seq = $3, updated_at = now() "
            "WHERE projection = $1 AND partition = $2",
            self._projection.name,
            partition,
            seq,
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
