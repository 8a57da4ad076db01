"""The claim/wake/poll loop every durable worker runs: the outbox relay and the job queues.

A worker claims what it can with `FOR UPDATE SKIP LOCKED` (a *step*), then waits for a reason
to look again: a NOTIFY sent at the commit that gave it work, a `wake()` from its own
process, the next due time it knows of, or `poll` seconds at most. The poll is the safety
net, not the mechanism: a notification is lost with the connection that listened for it, and
one worker's claim may leave work another worker's notification was meant for. A step that
fails for a reason outside it (the database or the log unavailable) is tried again after a
growing delay.

A worker may *linger*: wait a few milliseconds after its wait ends before it claims. Every
commit that gives it work notifies, so under load a worker that claims at once runs a step per
commit or two; lingering lets the commits of those milliseconds share one claim, one
transaction and one append (README, Benchmarks, Campaign: "Lingering").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from bullseye_platform.pausing import pause

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Delays after consecutive failures: `first`, doubling, at most `most` seconds."""

    first: float = 1.0
    most: float = 300.0

    def delay(self, failures: int) -> float:
        return float(min(self.most, self.first * 2 ** max(failures - 1, 0)))


DEFAULT_BACKOFF = Backoff()


@dataclass(frozen=True)
class Pass:
    """What one step found: more work waiting at once, or when the next known work is due."""

    more: bool = False
    next_due: datetime | None = None


class WakeLoop:
    """Runs `step` until stop, waiting between steps that found nothing more to do.

    Args:
        name: for the logs.
        step: claims and does one round of work.
        poll: the longest wait without a wake-up (seconds).
        clock: the service's clock, which `Pass.next_due` is measured against.
        retry_on: what a step may raise that says "not now" rather than "bug"; anything else
            ends the loop (and the service: a worker that fails is not hidden).
        linger: seconds to wait after a wait before the next step (0: none); a step that found
            more work is followed at once.
    """

    def __init__(
        self,
        *,
        name: str,
        step: Callable[[], Awaitable[Pass]],
        poll: float,
        clock: Callable[[], datetime] | None = None,
        retry_on: tuple[type[BaseException], ...] = (),
        backoff: Backoff = DEFAULT_BACKOFF,
        linger: float = 0.0,
    ) -> None:
        self._name, self._step, self._poll, self._clock = name, step, poll, clock
        self._retry_on, self._backoff, self._linger = retry_on, backoff, linger
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Look again now (or right after the step in progress: a wake-up is never lost)."""
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        stopper = asyncio.create_task(self._wake_on(stop))
        failures = 0
        try:
            while not stop.is_set():
                # Cleared before looking, not after: work committed while the step ran (too late
                # for its claim) must end the next wait, not wait for the poll.
                self._wakeup.clear()
                try:
                    found = await self._step()
                except self._retry_on as exc:
                    failures += 1
                    delay = self._backoff.delay(failures)
                    log.warning("%s will retry in %.1fs: %s", self._name, delay, exc)
                    await pause(stop, delay)
                    continue
                failures = 0
                if not found.more:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), timeout=self._timeout(found.next_due))
                    if self._linger:
                        await pause(stop, self._linger)
        finally:
            stopper.cancel()

    def _timeout(self, next_due: datetime | None) -> float:
        if next_due is None or self._clock is None:
            return self._poll
        return min(self._poll, max(0.0, (next_due - self._clock()).total_seconds()))

    async def _wake_on(self, stop: asyncio.Event) -> None:
        """A stop ends the wait at once, not at the next poll."""
        await stop.wait()
        self._wakeup.set()


@contextlib.asynccontextmanager
async def listening(pool: asyncpg.Pool, channel_prefix: str, on_notify: Callable[[str], None]) -> AsyncIterator[str]:
    """LISTEN on `<channel_prefix><schema>` on a connection held from `pool` for the block.

    A channel per schema: one service's commits must not wake the workers of the others that
    share the database. Yields the channel's name.
    """
    conn = await pool.acquire()

    def heard(_conn: object, _pid: int, _channel: str, payload: object) -> None:
        on_notify(str(payload))

    try:
        channel = channel_prefix + str(await conn.fetchval("SELECT current_schema()"))
        await conn.add_listener(channel, heard)
        try:
            yield channel
        finally:
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await conn.remove_listener(channel, heard)
    finally:
        await pool.release(conn)
