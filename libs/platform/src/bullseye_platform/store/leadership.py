"""Leadership: one process of a deployment runs a job, a standby takes over when it is gone.

Every candidate holds a connection of its own and asks PostgreSQL for a session-level
advisory lock (`pg_try_advisory_lock`); the one that gets it leads and runs the jobs until
it stops or its session is lost; the others ask again every `retry` seconds. The lock
belongs to the session, not to a transaction, and is released when the session ends: a
leader killed with SIGKILL loses it as soon as PostgreSQL sees its socket close; one whose
node vanished, when TCP keepalives (set on the session, below) give up on it.

The lock is for liveness, not safety. A leader cut off from PostgreSQL may still have a
batch in flight when a standby takes over; what keeps that batch from being applied twice
is the projection's own fencing (its position rows are locked and compared in the same
transaction as its effects, projection.py). Leadership makes sure that, in steady state,
only one process does the work and that the work resumes within seconds of losing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Sequence

import asyncpg

from bullseye_platform.grpc.server import Worker
from bullseye_platform.instruments.leadership import LeadershipInstruments
from bullseye_platform.store.listen import CONNECT_TIMEOUT, UNREACHABLE

log = logging.getLogger(__name__)

# A leader whose node vanishes without closing its socket is given up by PostgreSQL after
# about idle + interval x count = 11 s (or tcp_user_timeout while data is unacknowledged);
# the defaults (2 h) would leave the job without a leader for that long. Ignored on Unix sockets.
KEEPALIVES = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "10000",
}


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for `name`: the same in every process and release."""
    return int.from_bytes(hashlib.sha256(f"bullseye-leader:{name}".encode()).digest()[:8], "big", signed=True)


class Leadership:
    """Runs `jobs` in whichever candidate holds the lock named `name`.

    Args:
        dsn: PostgreSQL DSN; advisory locks are per database, so `name` must say what is led
            (e.g. the schema and the consumer), two deployments sharing a database must differ.
        name: what is led; also the application_name of the lock's session (pg_stat_activity).
        jobs: the workers only the leader runs; they are told to stop when leadership ends.
        retry: seconds between a standby's attempts, and before reconnecting a lost session.
        check: seconds between the leader's looks at its own session (a lost one ends leadership).
    """

    def __init__(self, dsn: str, name: str, jobs: Sequence[Worker], *, retry: float = 1.0, check: float = 5.0) -> None:
        self._dsn, self.name, self._jobs = dsn, name, jobs
        self._retry, self._check = retry, check
        self._key = lock_key(name)
        self._instruments = LeadershipInstruments(name)

    async def run(self, stop: asyncio.Event) -> None:
        """Be a candidate until `stop`: lead whenever the lock is ours, stand by otherwise."""
        while not stop.is_set():
            try:
                await self._candidate(stop)
            except UNREACHABLE as exc:
                log.warning("leadership %s: PostgreSQL unreachable, retrying: %s", self.name, exc)
            await _pause(stop, self._retry)

    async def _candidate(self, stop: asyncio.Event) -> None:
        settings = {"application_name": f"leader:{self.name}"[:63], **KEEPALIVES}
        conn = await asyncpg.connect(self._dsn, server_settings=settings, timeout=CONNECT_TIMEOUT)
        try:
            while not stop.is_set():
                if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._key):
                    await self._lead(conn, stop)
                    return  # a fresh session after leading: its lock may be gone with the old one
                await _pause(stop, self._retry)
        finally:
            with contextlib.suppress(*UNREACHABLE):
                await conn.close(timeout=2)  # ends the session: the lock, if held, is released

    async def _lead(self, conn: asyncpg.Connection[asyncpg.Record], stop: asyncio.Event) -> None:
        """Run the jobs until `stop`, a lost session or a failed job; wait for them to finish."""
        log.info("leadership %s: leading", self.name)
        self._instruments.leading(True)
        inner = asyncio.Event()
        jobs = [asyncio.create_task(job(inner)) for job in self._jobs]
        watch = asyncio.create_task(self._watch(conn))
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait([stopping, watch, *jobs], return_when=asyncio.FIRST_COMPLETED)
        finally:
            inner.set()
            stopping.cancel()
            watch.cancel()
            self._instruments.leading(False)
            ended = await asyncio.gather(*jobs, return_exceptions=True)
        failed = [e for e in ended if isinstance(e, BaseException)]
        if failed:  # like any worker's failure: stop the process, its supervisor restarts it
            raise RuntimeError(f"leadership {self.name}: a job failed while leading") from failed[0]
        if not stop.is_set():
            log.warning("leadership %s: session lost, standing by", self.name)

    async def _watch(self, conn: asyncpg.Connection[asyncpg.Record]) -> None:
        """Return when the lock's session is gone (closed, or no answer within `check` seconds)."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        while not lost.is_set():
            try:
                await conn.fetchval("SELECT 1", timeout=self._check)
            except (*UNREACHABLE, asyncpg.InterfaceError):
                return
            await _pause(lost, self._check)


async def _pause(event: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `event` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)
