"""A few connections kept open for GetProfile's one-statement read (bases.read_profile).

They keep GetProfile's hottest statement off the shared pool: away from the projection's
and the relay's transactions, and without the pool's per-acquire bookkeeping (its reset
round trip, measured at ~90 us of CPU per call before store.pool stopped resetting, is gone
for every pool now). A single read-only statement leaves no session state behind. A connection whose statement failed or
was cancelled (the state of its protocol is then unknown) is dropped and its slot reopened
on the next read; at most `size` are open.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

# What a lost connection raises: the client side, the server ending the session, the socket.
LOST = (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, asyncpg.exceptions.OperatorInterventionError, OSError)


class ReadConnections:
    def __init__(self, dsn: str, *, schema: str, size: int = 4) -> None:
        self._dsn, self._schema = dsn, schema
        # A slot is an open connection or None (not opened yet, or dropped).
        self._slots: asyncio.Queue[asyncpg.Connection | None] = asyncio.Queue()
        for _ in range(size):
            self._slots.put_nowait(None)
        self._closed = False

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        """One row of a read-only `query`; once more on a new connection if the one taken had
        been lost (a PostgreSQL restart or failover, an idle connection ended by the server)."""
        try:
            return await self._fetchrow(query, args)
        except LOST:
            return await self._fetchrow(query, args)

    async def _fetchrow(self, query: str, args: tuple[Any, ...]) -> asyncpg.Record | None:
        conn = await self._take()
        try:
            row: asyncpg.Record | None = await conn.fetchrow(query, *args)
        except BaseException:
            conn.terminate()
            self._slots.put_nowait(None)
            raise
        self._slots.put_nowait(conn)
        return row

    async def _take(self) -> asyncpg.Connection:
        if self._closed:
            raise RuntimeError("readers closed")
        conn = await self._slots.get()
        if conn is not None and not conn.is_closed():
            return conn
        try:
            settings = {"search_path": self._schema, "application_name": f"bullseye-{self._schema}-reads"}
            opened: asyncpg.Connection = await asyncpg.connect(self._dsn, server_settings=settings)
        except BaseException:
            self._slots.put_nowait(None)
            raise
        return opened

    async def close(self) -> None:
        """Close the idle connections (call when no read is in flight: at shutdown)."""
        self._closed = True
        while not self._slots.empty():
            conn = self._slots.get_nowait()
            if conn is not None:
                await conn.close()
