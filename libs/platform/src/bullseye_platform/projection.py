"""Exactly-once projections of partitioned streams into PostgreSQL.

For each fetched batch the runner applies the records that are past the stored position
and stores the new position *in the same transaction*; it acks only after the commit.
A crash before the commit leaves nothing applied and the messages are redelivered; a
crash after it leaves them applied and the redelivery is recognised by its sequence and
skipped. (The `Follower.process_event` idea of the eventsourcing library.)

A projection may read several streams (recommendation: RESOLVED and CATALOG; campaign:
RESOLVED and PROFILE): positions are kept per (stream, partition), each stream is read in
its own order, and no order between streams is promised. During a replay a rebuild asked for
(replay.py), the batches it covers go to `apply_quietly`: state only, no side effects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from bullseye_platform.eventlog.consumer import LogRecord, PartitionConsumer, partitions_in
from bullseye_platform.instruments.projection import ProjectionInstruments
from bullseye_platform.pausing import pause
from bullseye_platform.replay import Replay
from bullseye_platform.store.pool import TRANSIENT, Connection, quote_ident
from bullseye_platform.telemetry import batch_span

log = logging.getLogger(__name__)


class Projection(Protocol):
    """What a service implements; the runner does the bookkeeping."""

    name: str
    owned_tables: Sequence[str]

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        """Fold `records` (of one stream, in its order, never seen before) into the tables."""


@runtime_checkable
class Replayable(Projection, Protocol):
    """A projection whose records cause side effects (facts, refreshes) that a replay must not repeat."""

    async def apply_quietly(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        """Fold records a rebuild replays into the same state `apply` gives, acting on nothing
        else: what they caused was announced when they were live."""

    async def replay_ended(self, conn: Connection) -> None:
        """Catch up, in the transaction that ends the replay, on what it held back (e.g. make
        one reconciling sweep due)."""


@dataclass(frozen=True)
class Source:
    """A stream a projection reads: the partitions this worker owns, and every partition of it
    (all workers together; a replay ends when all of them reached their ends)."""

    stream: str
    subject_prefix: str
    partitions: Sequence[int]
    every: Sequence[int] = ()

    @property
    def all_partitions(self) -> Sequence[int]:
        return self.every or self.partitions


@dataclass(frozen=True)
class Reading:
    """How a runner reads its partitions: the consumers they are dealt to, records per batch."""

    consumers: list[PartitionConsumer]
    batch_size: int


def deal(partitions: Sequence[int], readers: int) -> list[list[int]]:
    """`partitions` in `readers` contiguous shares (fewer when there are fewer partitions)."""
    owned = sorted(partitions)
    count = max(1, min(readers, len(owned)))
    return [owned[len(owned) * n // count : len(owned) * (n + 1) // count] for n in range(count)]


async def positions(conn: Connection, projection: str, stream: str) -> dict[int, int]:
    """How far `projection` has applied `stream`, per partition (the stream sequence of the last
    record applied): what is committed, and what the caller's transaction wrote itself."""
    rows = await conn.fetch(
        "SELECT partition, stream_seq FROM projection_positions WHERE projection = $1 AND stream = $2",
        projection, stream,
    )  # fmt: skip
    return {int(r["partition"]): int(r["stream_seq"]) for r in rows}


async def caught_up(
    conn: Connection, projection: str, stream: str, needs: Mapping[int, int], *, within: float, every: float = 0.02
) -> bool:
    """Wait until `projection` has applied `stream` through `needs` (partition -> stream
    sequence); False after `within` seconds.

    Streams are read in no order between them, so a record of one can arrive before the record
    of another that caused it (profile's segment entry before the RESOLVED consent whose fold
    made it). Its projection waits for the cause here, in its own transaction (each read sees
    what the other stream's batches committed since), rather than act without it. The bound
    keeps a stopped reader of the other stream from stopping this one too.
    """
    deadline = time.monotonic() + within
    while True:
        reached = await positions(conn, projection, stream)
        if all(reached.get(partition, 0) >= seq for partition, seq in needs.items()):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every)


async def adopt_positions(conn: Connection, projection: str, stream: str) -> None:
    """Give the positions stored before they named their stream (migration 0005) to `stream`,
    the one stream a projection read then."""
    for table in ("projection_positions", "projection_dead_letters"):
        await conn.execute(f"UPDATE {table} SET stream = $2 WHERE projection = $1 AND stream = ''", projection, stream)


class ProjectionRunner:
    """Runs one projection over the partitions this worker owns of one or more streams.

    Args:
        sources: the streams read; `stream`, `subject_prefix` and `partitions` name one.
        readers: consumers each source's partitions are dealt to, each applying its batches
            in its own transactions, concurrently with the others. One reader fills its
            batches best (a transaction per batch, whatever its size); several overlap one
            batch's database round trips with another's work when catching up.
        batch_size: records fetched and applied per transaction.
        linger: seconds a reader waits after a batch smaller than `batch_size` before it fetches
            again (0: none), so that the records arriving meanwhile share one transaction.
        retry_delay: seconds to wait before retrying a batch the database could not take.
        replay: the replay this start runs (replay.plan); none by default.
        replay_readers, replay_batch_size: how that replay reads (0: like the live reading);
            once this start's partitions have replayed, `readers` and `batch_size` take over.
        consumer: what its durable consumers are named after (default: the projection's
            name). Two deployments of one projection reading the same stream need different
            names: a start recreates its durables (and deletes stale ones of its name), which
            would cut the other deployment's reading.

    Raises:
        ValueError: no source, or a replay for a projection that is not Replayable.
    """

    def __init__(
        self,
        *,
        js: JetStreamContext,
        pool: asyncpg.Pool,
        projection: Projection,
        sources: Sequence[Source] = (),
        stream: str = "",
        subject_prefix: str = "",
        partitions: Sequence[int] = (),
        readers: int = 1,
        batch_size: int = 256,
        linger: float = 0.0,
        fetch_timeout: float = 1.0,
        retry_delay: float = 1.0,
        replay: Replay | None = None,
        replay_readers: int = 0,
        replay_batch_size: int = 0,
        consumer: str = "",
    ) -> None:
        self._js, self._pool, self._projection = js, pool, projection
        self._consumer = consumer or projection.name
        self._fetch_timeout, self._retry_delay, self._linger = fetch_timeout, retry_delay, linger
        self._sources = [*sources, *([Source(stream, subject_prefix, partitions)] if stream else [])]
        if not self._sources:
            raise ValueError("a projection reads at least one stream")
        self._replay = replay or Replay()
        self._apply_quietly = projection.apply_quietly if isinstance(projection, Replayable) else None
        if self._replay.requested and self._apply_quietly is None:
            raise ValueError(f"projection {projection.name} cannot replay quietly (not Replayable)")
        self._live = self._reading = Reading(self._dealt(readers), batch_size)
        if self._replay.active and (replay_readers or replay_batch_size):
            self._reading = Reading(self._dealt(replay_readers or readers), replay_batch_size or batch_size)
        self._replayed = asyncio.Event()
        self._instruments = {s.stream: ProjectionInstruments(projection.name, s.stream) for s in self._sources}

    def _dealt(self, readers: int) -> list[PartitionConsumer]:
        return [
            PartitionConsumer(self._js, stream=s.stream, subject_prefix=s.subject_prefix,
                              consumer=self._consumer, partitions=share, ack_all=True)
            for s in self._sources
            for share in deal(s.partitions, readers)
        ]  # fmt: skip

    def durables(self, stream: str) -> list[str]:
        """The durable consumers `stream`'s partitions are read through (their lag is a metric)."""
        return [consumer.durable for consumer in self._reading.consumers if consumer.stream == stream]

    async def run(self, stop: asyncio.Event) -> None:
        """Follow every owned partition until `stop` is set.

        A replay that reads its own way (replay_readers, replay_batch_size) does so until this
        start's partitions have replayed; the live reading then follows on from the stored
        positions (its first start deletes the replay's consumers, see _drop_stale_consumers).
        Kept for the process's life, profile's reader per partition (16 long polls, each renewed
        every second) cost ~12 ms of CPU a second when idle and ~5% of a GetProfile's CPU under
        load, after every start on an empty schema (measured; see README, Benchmarks).
        """
        if self._reading is not self._live:
            await self._until_replayed(stop)
            self._reading = self._live
        if not stop.is_set():
            await self._follow_all(stop)

    async def run_replay(self, stop: asyncio.Event) -> None:
        """Run only the replay this start was given (nothing when none), then let go of the
        streams: for a projection that exists to restore state from the log."""
        if not self._replay.active:
            return
        try:
            await self._until_replayed(stop)
        finally:
            for consumer in self._reading.consumers:
                await consumer.delete()  # not read again: NATS must not keep its pending messages

    async def _until_replayed(self, stop: asyncio.Event) -> None:
        """Follow until `stop`, or until this start's partitions have replayed."""
        until = asyncio.Event()
        watches = [asyncio.create_task(_set_when(stop, until)), asyncio.create_task(_set_when(self._replayed, until))]
        try:
            await self._follow_all(until)
        finally:
            for watch in watches:
                watch.cancel()

    async def _follow_all(self, stop: asyncio.Event) -> None:
        if len(self._sources) == 1:
            async with self._pool.acquire() as conn:
                await adopt_positions(conn, self._projection.name, self._sources[0].stream)
        await self._drop_stale_consumers()
        for consumer in self._reading.consumers:
            await self._open(consumer)
        try:
            await asyncio.gather(*(self._follow(c, stop) for c in self._reading.consumers))
        finally:
            for consumer in self._reading.consumers:
                await consumer.close()

    async def _drop_stale_consumers(self) -> None:
        """Delete this projection's durables left by an earlier dealing of partitions we own now.

        Each partition has one owner at a time, so a durable of ours that reads one of our
        partitions under another name is left over (another `readers` count, or the former
        one-per-partition scheme); kept, NATS would track its pending messages forever.
        """
        owned: dict[str, set[int]] = defaultdict(set)
        for c in self._reading.consumers:
            owned[c.stream].update(c.partitions)
        current = {(c.stream, c.durable) for c in self._reading.consumers}
        for stream, partitions in owned.items():
            for info in await self._js.consumers_info(stream):
                name = info.name or ""
                read = partitions_in(name, self._consumer)
                if (stream, name) not in current and read and read & partitions:
                    log.info("projection %s: deleting the stale consumer %s", self._projection.name, name)
                    with contextlib.suppress(NotFoundError):
                        await self._js.delete_consumer(stream, name)

    async def _follow(self, consumer: PartitionConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            records = await consumer.fetch(self._reading.batch_size, wait=self._fetch_timeout)
            if records and not await self.process(records):
                await self._rewind(consumer, stop)
            elif records and len(records) < self._reading.batch_size and self._linger:
                await pause(stop, self._linger)

    async def _open(self, consumer: PartitionConsumer) -> None:
        """Start delivery right after the lowest stored position of the owned partitions:
        PostgreSQL, not NATS, says where we are; records at or below their partition's
        position are skipped as they come."""
        value = await self._pool.fetchval(
            "SELECT min(coalesce(p.stream_seq, 0)) FROM unnest($3::integer[]) AS owned(partition) "
            "LEFT JOIN projection_positions p "
            "ON p.projection = $1 AND p.stream = $2 AND p.partition = owned.partition",
            self._projection.name,
            consumer.stream,
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
        """Apply one fetched batch (records of one stream, any owned partitions, in stream
        order) exactly once, then ack it.

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
            self._instruments[records[0].stream].processed(records, started)
        if not self._replay.active:
            self._replayed.set()
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
        stream = records[0].stream
        async with self._pool.acquire() as conn, conn.transaction():
            positions = await self._lock_positions(conn, stream, {r.partition for r in records})
            fresh = [r for r in records if r.seq > positions[r.partition]]
            if not fresh:
                return
            quietly = self._apply_quietly if await self._replay.quiet(conn, fresh) else None
            with batch_span(f"project {self._projection.name}", [r.headers for r in fresh]):
                await (quietly or self._projection.apply)(conn, fresh)
            await self._store_positions(conn, stream, {r.partition: r.seq for r in fresh})  # the last of each
            ended = await self._replay.advance(conn, fresh)
        self._replay.committed(fresh, ended=ended)

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
            positions = await self._lock_positions(conn, record.stream, {record.partition})
            if record.seq <= positions[record.partition]:
                return
            await conn.execute(
                "INSERT INTO projection_dead_letters (projection, stream, partition, stream_seq, subject, error) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                self._projection.name, record.stream, record.partition, record.seq, record.subject, repr(exc)[:2000],
            )  # fmt: skip
            await self._store_positions(conn, record.stream, {record.partition: record.seq})
            ended = await self._replay.advance(conn, [record])
        self._replay.committed([record], ended=ended)
        self._instruments[record.stream].dead_lettered(record)
        log.error("projection %s: record %s/%d set aside: %r", self._projection.name, record.stream, record.seq, exc)

    async def _lock_positions(self, conn: Connection, stream: str, partitions: set[int]) -> dict[int, int]:
        # FOR UPDATE, in partition order: two workers that both think they own a partition
        # (during a rebalance) serialise here, and the second one sees the first one's position.
        owned = sorted(partitions)
        positions = await self._select_positions(conn, stream, owned)
        if len(positions) < len(owned):  # a partition's first batch (rows are made once)
            await conn.execute(
                "INSERT INTO projection_positions (projection, stream, partition) "
                "SELECT $1, $2, p FROM unnest($3::integer[]) AS p ON CONFLICT DO NOTHING",
                self._projection.name,
                stream,
                owned,
            )
            positions = await self._select_positions(conn, stream, owned)
        return positions

    async def _select_positions(self, conn: Connection, stream: str, owned: list[int]) -> dict[int, int]:
        rows = await conn.fetch(
            "SELECT partition, stream_seq FROM projection_positions WHERE projection = $1 AND stream = $2 "
            "AND partition = ANY($3::integer[]) ORDER BY partition FOR UPDATE",
            self._projection.name,
            stream,
            owned,
        )
        return {int(r["partition"]): int(r["stream_seq"]) for r in rows}

    async def _store_positions(self, conn: Connection, stream: str, reached: dict[int, int]) -> None:
        await conn.execute(
            "UPDATE projection_positions AS p SET stream_seq = r.seq, updated_at = now() "
            "FROM unnest($3::integer[], $4::bigint[]) AS r(partition, seq) "
            "WHERE p.projection = $1 AND p.stream = $2 AND p.partition = r.partition",
            self._projection.name,
            stream,
            list(reached),
            list(reached.values()),
        )

    async def reset(self) -> None:
        """Forget everything this projection built: positions, owned tables, NATS consumers.

        The next `run()` replays the streams from the start; the result must equal the live one.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            tables = ", ".join(quote_ident(t) for t in self._projection.owned_tables)
            if tables:
                await conn.execute(f"TRUNCATE {tables}")
            await conn.execute("DELETE FROM projection_positions WHERE projection = $1", self._projection.name)
            await conn.execute("DELETE FROM projection_dead_letters WHERE projection = $1", self._projection.name)
        for consumer in self._reading.consumers:
            await consumer.delete()


async def _set_when(event: asyncio.Event, then: asyncio.Event) -> None:
    await event.wait()
    then.set()
