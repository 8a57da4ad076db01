"""`python -m bullseye_profile.rebuild`: forget the profile projection, so that the next start
replays RESOLVED from the beginning (run it with the service stopped).

The projection's tables (journal, aliases, RFM scores, population figures), its stored
positions and its NATS consumers are dropped; the end of the replay makes the RFM schedule
due, so scores come back right after it. Segment definitions and memberships are kept: they come from
RPCs and carry history that was already announced (see segments/__init__.py); the replay
does not refresh them and ends with a membership sweep (projections/replay.py).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from datetime import datetime

from bullseye_platform.config import load_or_exit
from bullseye_platform.eventlog import connect
from bullseye_platform.logging import configure_logging
from bullseye_platform.store.pool import Connection

from bullseye_profile import bootstrap
from bullseye_profile.config import PREFIX, ProfileConfig
from bullseye_profile.domain.clock import Clock
from bullseye_profile.projections import replay
from bullseye_profile.projections.resolved import ResolvedProjection


async def _applies_nothing(conn: Connection, person_ids: Sequence[str], now: datetime) -> None:
    """A reset applies no record, so there is no membership to refresh."""


async def forget(config: ProfileConfig) -> None:
    pool = await bootstrap.open_store(config)
    nc = await connect(config.nats_url, name="bullseye-profile-rebuild")
    try:
        projection = ResolvedProjection(now=Clock.parse(config.fixed_now).now, refresh=_applies_nothing)
        await bootstrap.projection_runner(config, nc.jetstream(), pool, projection).reset()
        async with pool.acquire() as conn, conn.transaction():
            # Its end (all partitions replayed) makes the membership sweep and RFM recompute due.
            await replay.request(conn, range(config.resolved_partitions))
    finally:
        await nc.drain()
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    del argv
    config = load_or_exit(ProfileConfig, prefix=PREFIX, program="bullseye-profile-rebuild")
    configure_logging("profile", level=config.log_level)
    asyncio.run(forget(config))
    print("profile projection reset: the next start replays RESOLVED from the beginning", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
