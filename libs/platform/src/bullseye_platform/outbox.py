"""Transactional outbox: facts written with the state change, relayed to the log after.

`emit()` inserts into the service's `outbox` table inside the caller's transaction; a
trigger on the table notifies the schema's relay (store/sql/0003). The relay takes pending
rows, publishes them with their `msg_id` as Nats-Msg-Id and commits their deletion; if it
dies between the two, the re-publish is dropped by JetStream's duplicate window, so each
fact is in the stream once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence

import asyncpg

from bullseye_platform.eventlog.writer import AppendError, LogMessage, LogWriter
from bullseye_platform.instruments.outbox import OutboxInstruments
from bullseye_platform.store.pool import Connection
from bullseye_platform.telemetry import inject_headers

log = logging.getLogger(__name__)
CHANNEL_PREFIX = "bullseye_outbox:"  # + the schema: what the trigger notifies
# The relay's commit (the DELETE of rows already published) need not wait for its WAL
# flush: if a crash loses it, the rows come back and are published again under the same
# msg_id, which JetStream's duplicate window drops, as after a crash between publish and
# commit. It saves an fsync per relayed batch on every fact's way to the log. (The commits
# that *write* outbox rows stay synchronous: they become visible, and relayed, before a
# lazy flush, and a lost one would be redone with facts that may differ.)
NO_FLUSH_WAIT = "SET LOCAL synchronous_commit TO off"

# The oldest pending rows, locked past any other relay's (SKIP LOCKED) and deleted.
_TAKE = """
DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
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
    """Moves outbox rows to the stream, oldest first; several relays may run (SKIP LOCKED)."""

    def __init__(self, *, pool: asyncpg.Pool, writer: LogWriter, batch_size: int = 500, idle_poll: float = 1.0):
        self._pool, self._writer = pool, writer
        self._batch_size, self._idle_poll = batch_size, idle_poll
        self._wakeup = asyncio.Event()
        self._instruments = OutboxInstruments()

    async def relay_once(self) -> int:
        """Publish and delete one batch of pending rows; returns how many."""
        async with self._pool.acquire() as conn, conn.transaction():
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

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop`; wakes on NOTIFY, polls as a safety net."""
        listener = await self._pool.acquire()

        def on_notify(*_: object) -> None:
            self._wakeup.set()

        async def wake_on_stop() -> None:  # a stop ends the wait at once, not at the next poll
            await stop.wait()
            self._wakeup.set()

        channel = CHANNEL_PREFIX + await listener.fetchval("SELECT current_schema()")
        await listener.add_listener(channel, on_notify)
        stopper = asyncio.create_task(wake_on_stop())
        try:
            while not stop.is_set():
                # Cleared before looking, not after: a NOTIFY for a row committed while
                # relay_once ran (too late for its SELECT) must wake the next wait, not be
                # forgotten until the idle poll.
                self._wakeup.clear()
                try:
                    moved = await self.relay_once()
                except (AppendError, OSError, asyncpg.PostgresError) as exc:
                    log.warning("outbox relay will retry: %s", exc)
                    self._instruments.failed()
                    moved = 0
                if moved < self._batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), timeout=self._idle_poll)
        finally:
            stopper.cancel()
            await listener.remove_listener(channel, on_notify)
            await self._pool.release(listener)
