"""A LISTEN that outlives its connection, for callers that must know what they may have missed.

PostgreSQL does not replay notifications sent while a session was gone. A cache invalidated
by NOTIFY must therefore stop trusting itself the moment its connection is lost and start
afresh once a new LISTEN is in place: `on_live(False)` says the first, `on_live(True)` the
second (every notification committed after it will arrive). The connection is its own, not
a pool's: it sits idle in LISTEN for the life of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

from bullseye_platform.pausing import pause

log = logging.getLogger(__name__)

# What a failed connect or a lost session raises.
UNREACHABLE = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)
CONNECT_TIMEOUT = 5.0  # a stop waits for a connect in progress at most this long


class Listener:
    def __init__(
        self,
        dsn: str,
        channel: str,
        *,
        on_notify: Callable[[str], None],
        on_live: Callable[[bool], None],
        retry: float = 1.0,
    ) -> None:
        self._dsn, self._channel, self._retry = dsn, channel, retry
        self._on_notify, self._on_live = on_notify, on_live

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until `stop`, reconnecting after `retry` seconds whenever the session is lost."""
        while not stop.is_set():
            try:
                await self._session(stop)
            except UNREACHABLE as exc:
                log.warning("LISTEN %s lost, retrying in %.1fs: %s", self._channel, self._retry, exc)
            await pause(stop, self._retry)

    async def _session(self, stop: asyncio.Event) -> None:
        settings = {"application_name": f"listen-{self._channel}"}
        conn = await asyncpg.connect(self._dsn, server_settings=settings, timeout=CONNECT_TIMEOUT)
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(self._channel, lambda _conn, _pid, _channel, payload: self._on_notify(payload))
            self._on_live(True)
            waits = [asyncio.create_task(stop.wait()), asyncio.create_task(lost.wait())]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
        finally:
            self._on_live(False)
            if not conn.is_closed():
                with contextlib.suppress(*UNREACHABLE):
                    await conn.close(timeout=2)
        if lost.is_set() and not stop.is_set():
            log.warning("LISTEN %s: connection lost, reconnecting", self._channel)
