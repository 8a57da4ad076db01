"""The outcomes of corrections, as the resolver records them, and waiting for one.

An RPC that recorded a command waits for the row the resolver writes when it applies it.
The row's trigger notifies the schema's channel at commit (migrations/0110); one LISTEN per
process wakes the waiting calls, and each call also looks again every `poll` seconds, so a
notification lost with its connection costs a delay, never an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import asyncpg
from bullseye_platform.store.listen import Listener
from google.rpc import status_pb2

CHANNEL_PREFIX = "bullseye_corrections:"  # + the schema: what the trigger notifies
_OUTCOME = "SELECT outcome FROM corrections WHERE command_id = $1"


class Waiter:
    """One call's wait for one command's outcome."""

    def __init__(self, outcomes: Outcomes, command_id: str) -> None:
        self._outcomes, self.command_id = outcomes, command_id
        self.woken = asyncio.Event()

    async def until(self, deadline: float) -> status_pb2.Status | None:
        """The outcome, or None if there is none by `deadline` (the loop's clock)."""
        loop = asyncio.get_running_loop()
        while True:
            # Cleared before looking: a commit notified while we look wakes the next wait.
            self.woken.clear()
            found = await self._outcomes.get(self.command_id)
            left = deadline - loop.time()
            if found is not None or left <= 0:
                return found
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), timeout=min(left, self._outcomes.poll))


class Outcomes:
    def __init__(self, pool: asyncpg.Pool, *, dsn: str, schema: str, poll: float = 1.0) -> None:
        self._pool, self.poll = pool, poll
        self._waiting: dict[str, set[Waiter]] = {}
        self._listener = Listener(dsn, CHANNEL_PREFIX + schema, on_notify=self._notified, on_live=self._live)

    async def run(self, stop: asyncio.Event) -> None:
        """LISTEN until `stop` (a worker of every serving process: each has its own waiting calls)."""
        await self._listener.run(stop)

    async def get(self, command_id: str) -> status_pb2.Status | None:
        raw = await self._pool.fetchval(_OUTCOME, command_id)
        return None if raw is None else status_pb2.Status.FromString(raw)

    @contextlib.contextmanager
    def waiting(self, command_id: str) -> Iterator[Waiter]:
        """A waiter registered for the block: register before the command is appended."""
        waiter = Waiter(self, command_id)
        self._waiting.setdefault(command_id, set()).add(waiter)
        try:
            yield waiter
        finally:
            others = self._waiting.get(command_id, set())
            others.discard(waiter)
            if not others:
                self._waiting.pop(command_id, None)

    def _notified(self, command_id: str) -> None:
        for waiter in self._waiting.get(command_id, ()):
            waiter.woken.set()

    def _live(self, live: bool) -> None:
        """Back after a lost connection: what was notified meanwhile is lost, so everyone looks."""
        if live:
            for waiters in self._waiting.values():
                for waiter in waiters:
                    waiter.woken.set()
