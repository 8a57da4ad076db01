"""`python -m bullseye_profile rebuild`: forget the profile projection, so that the next start
replays RESOLVED from the beginning (run it with the service stopped).

The projection's tables (journal, aliases, RFM scores, population figures, stored bases),
its stored positions and its NATS consumers are dropped, and a quiet replay is requested
(bullseye_platform.replay): the next start folds RESOLVED without refreshing segments, and
the replay's end recomputes RFM over the whole journal and makes one membership sweep due.
Segment definitions and memberships are kept: they carry history that was already announced
(see segments/__init__.py), and the sweep announces only real differences.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime

from bullseye_platform import replay
from bullseye_platform.eventlog import connect
from bullseye_platform.store.pool import Connection

from bullseye_profile import bootstrap
from bullseye_profile.config import ProfileConfig
from bullseye_profile.projections.resolved import Cause, ResolvedProjection


async def _applies_nothing(
    conn: Connection, person_ids: Sequence[str], now: datetime, causes: Mapping[str, Cause] | None = None
) -> None:
    """A reset applies no record, so there is no membership to refresh."""


async def rebuild(config: ProfileConfig, arguments: Sequence[str]) -> int:
    """The `rebuild` command: reset the RESOLVED projection; the next start replays it quietly."""
    argparse.ArgumentParser(prog="bullseye-profile rebuild", description=__doc__).parse_args(arguments)
    pool = await bootstrap.open_store(config)
    nc = await connect(config.nats_url, name="bullseye-profile-rebuild")
    try:
        projection = ResolvedProjection(
            now=config.clock().now, refresh=_applies_nothing, partitions=config.resolved_partitions
        )
        await bootstrap.projection_runner(config, nc.jetstream(), pool, projection).reset()
        async with pool.acquire() as conn, conn.transaction():
            await replay.request(conn, projection.name)
    finally:
        await nc.drain()
        await pool.close()
    print("profile projection reset: the next start replays RESOLVED from the beginning", file=sys.stderr)
    return 0
