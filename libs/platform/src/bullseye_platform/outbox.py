"""Transactional outbox: facts written with the state change, relayed to the log after.

`emit()` inserts into the service's `outbox` table inside the caller's transaction; a
trigger on the table notifies the schema's relay (store/sql/0003). The relay takes pending
rows, publishes them with their `msg_id` as Nats-Msg-Id and commits their deletion; if it
dies between the two, the re-publish is dropped by JetStream's duplicate window, so each
fact is in the stream once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence

import asyncpg

from bullseye_platform.eventlog.writer import AppendError, LogMessage, LogWriter
from bullseye_platform.instruments.outbox import OutboxInstruments
from bullseye_platform.jobs.wake import Backoff, Pass, WakeLoop, listening
from bullseye_platform.store.pool import Connection
from bullseye_platform.telemetry import inject_headers

CHANNEL_PREFIX = "bullseye_outbox:"  # + the schema: what the trigger notifies
# The relay's commit (the DELETE of rows already published) need not wait for its WAL
# flush: if a crash loses it, the rows come back and are published again under the same
# msg_id, which JetStream's duplicate window drops, as after a crash between publish and
# commit. It saves an fsync per relayed batch on every fact's way to the log. (The commits
# that *write* outbox rows stay synchronous: they become visible, and relayed, before a
# lazy flush, and a lost one would be redone with facts that may differ.)
NO_FLUSH_WAIT = "SET LOCAL synchronous_commit TO off"

# What a relay retries after a delay: the log or the database unavailable. Facts wait for it,
# so the delay stays short.
RETRIED = (AppendError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
RETRY = Backoff(first=0.5, most=5.0)

# One relay of the schema at a time (see OutboxRelay); the others find nothing to do.
_ONE_RELAY = "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.outbox relay'))"

# The oldest pending rows, deleted: those up to the `$1`-th id the statement's snapshot sees
# (one relay at a time runs it, `_ONE_RELAY`; a row committed meanwhile is not in the snapshot
# and waits for the next batch). Written `id IN (SELECT ... LIMIT $1 FOR UPDATE SKIP LOCKED)`,
# the planner, whose statistics of a table that empties and fills all day say one row, joined
# the outbox to the sub-select and ran the sub-select again for every row: 8 ms and 37,000
# buffer reads for a batch of 256 (auto_explain, the campaign broadcast's backlog,
# 2026-12-07). A bound from a sub-select that runs once leaves no join to get wrong.
_TAKE = """
DELETE FROM outbox WHERE id <= (SELECT max(id) FROM (SELECT id FROM outbox ORDER BY id LIMIT $1) AS oldest)
RETURNING id, subject, msg_id, headers, payload
"""


async def emit(
    conn: Connection, *, subject: str, payload: bytes, msg_id: str, headers: Mapping[str, str] | None = None
) -> None:
    """Queue a fact for the log, in the caller's transaction.

    `msg_id` must be derived from what caused the fact (e.g. "segment-entered:<seg>:<person>:<seq>")
    so that re-applying the cause cannot queue it twice with different ids.
    """
    merged = inject_headers(dict(headers or {}))
    await conn.execute(
        "INSERT INTO outbox (subject, msg_id, headers, payload) VALUES ($1, $2, $3::jsonb, $4)",
        subject,
        msg_id,
        json.dumps(merged),
        payload,
    )


async def emit_many(conn: Connection, messages: Sequence[LogMessage]) -> None:
    """Queue many facts in one statement, in order, in the caller's transaction.

    For projections that emit one fact per record: `emit()` per fact costs two round trips
    each. Headers are stored as given, so each fact can carry the trace context of the
    record that caused it (not the batch's).
    """
    if not messages:
        return
    await conn.execute(
        "INSERT INTO outbox (subject, msg_id, headers, payload) "
        "SELECT s, m, h::jsonb, p FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[]) "
        "WITH ORDINALITY AS u(s, m, h, p, n) ORDER BY n",
        [m.subject for m in messages],
        [m.msg_id for m in messages],
        [json.dumps(dict(m.headers)) for m in messages],
        [m.payload for m in messages],
    )


class OutboxRelay:
    """Moves outbox rows to the stream, oldest first, on the shared claim/wake/poll loop.

    Several relays may run (one per process): one at a time moves rows (`_ONE_RELAY`), so the
    stream receives the facts in the order of their ids. Two relays taking batches side by side
    (SKIP LOCKED alone) could publish a later batch first, and a reader would see a person's
    exit from a segment before the entry it ends. (Ids are drawn at insert and committed in any
    order, but two facts about one thing are written under the same row lock, so the second
    one's id is drawn after the first one's commit.)
    """

    def __init__(
        self, *, pool: asyncpg.Pool, writer: LogWriter, batch_size: int = 500, idle_poll: float = 1.0,
        linger: float = 0.0,
    ) -> None:  # fmt: skip
        self._pool, self._writer, self._batch_size = pool, writer, batch_size
        self._loop = WakeLoop(name="outbox relay", step=self._step, poll=idle_poll, retry_on=RETRIED, backoff=RETRY,
                              linger=linger)  # fmt: skip
        self._instruments = OutboxInstruments()

    async def relay_once(self) -> int:
        """Publish and delete one batch of pending rows; returns how many (0 while another relay
        of the schema is moving rows)."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(_ONE_RELAY):
                return 0
            await conn.execute(NO_FLUSH_WAIT)
            # Deleted before they are published, in one statement: should the append fail,
            # the transaction rolls back and the rows are pending again.
            rows = sorted(await conn.fetch(_TAKE, self._batch_size), key=lambda r: r["id"])
            if not rows:
                return 0
            messages = [
                LogMessage(subject=r["subject"], payload=bytes(r["payload"]), msg_id=r["msg_id"],
                           headers=json.loads(r["headers"]))
                for r in rows
            ]  # fmt: skip
            await self._writer.append(messages)
            self._instruments.relayed(len(rows))
            return len(rows)

    async def _step(self) -> Pass:
        try:
            moved = await self.relay_once()
        except RETRIED:
            self._instruments.failed()  # and the loop retries it after a delay
            raise
        return Pass(more=moved >= self._batch_size)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop`; wakes on the NOTIFY of the rows' commit, polls as a safety net."""
        async with listening(self._pool, CHANNEL_PREFIX, lambda _payload: self._loop.wake()):
            await self._loop.run(stop)
