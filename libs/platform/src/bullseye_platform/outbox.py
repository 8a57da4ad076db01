"""Transactional outbox: facts written with the state change, relayed to the log after.

`emit()` inserts into the service's `outbox` table inside the caller's transaction. The
relay publishes pending rows with their `msg_id` as Nats-Msg-Id, then deletes
them; if it dies between the two, the re-publish is dropped by JetStream's duplicate
window, so each fact is in the stream once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence

import asyncpg

from bullseye_platform.eventlog.writer import AppendError, LogMessage, LogWriter
from bullseye_platform.store.pool import Connection
from bullseye_platform.telemetry import inject_headers

log = logging.getLogger(__name__)
CHANNEL = "bullseye_outbox"
# The relay's commit (the DELETE of rows already published) need not wait for its WAL
# flush: if a crash loses it, the rows come back and are published again under the same
# msg_id, which JetStream's duplicate window drops, as after a crash between publish and
# commit. It saves an fsync per relayed batch on every fact's way to the log. (The commits
# that *write* outbox rows stay synchronous: they become visible, and relayed, before a
# lazy flush, and a lost one would be redone with facts that may differ.)
NO_FLUSH_WAIT = "SET LOCAL synchronous_commit TO off"


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
    await conn.execute(f"NOTIFY {CHANNEL}")


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
    await conn.execute(f"NOTIFY {CHANNEL}")


class OutboxRelay:
    """Moves outbox rows to the stream, oldest first; several relays may run (SKIP LOCKED)."""

    def __init__(self, *, pool: asyncpg.Pool, writer: LogWriter, batch_size: int = 500, idle_poll: float = 1.0):
        self._pool, self._writer = pool, writer
        self._batch_size, self._idle_poll = batch_size, idle_poll
        self._wakeup = asyncio.Event()

    async def relay_once(self) -> int:
        """Publish and delete one batch of pending rows; returns how many."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(NO_FLUSH_WAIT)
            rows = await conn.fetch(
                "SELECT id, subject, msg_id, headers, payload FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self._batch_size,
            )
            if not rows:
                return 0
            messages = [
                LogMessage(subject=r["subject"], payload=bytes(r["payload"]), msg_id=r["msg_id"],
                           headers=json.loads(r["headers"]))
                for r in rows
            ]  # fmt: skip
            await self._writer.append(messages)
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
            return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop`; wakes on NOTIFY, polls as a safety net."""
        listener = await self._pool.acquire()

        def on_notify(*_: object) -> None:
            self._wakeup.set()

        await listener.add_listener(CHANNEL, on_notify)
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
                    moved = 0
                if moved < self._batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), timeout=self._idle_poll)
        finally:
            await listener.remove_listener(CHANNEL, on_notify)
            await self._pool.release(listener)
