"""`python -m bullseye_recommendation rebuild`: forget the projection, so that the next start
replays RESOLVED, CATALOG and RECO from the beginning (run it with the service stopped).

The projection's tables (catalog, interactions, per-person feedback, popularity, interests,
consent, aliases, attributions, impressions), its stored positions and its NATS consumers
are dropped. The model registry is kept: its versions and publications are not a fold of any
stream. Folding emits nothing, so the replay needs no quiet mode: the next start simply
follows the streams from their first record.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bullseye_platform.eventlog import connect

from bullseye_recommendation import bootstrap
from bullseye_recommendation.config import RecommendationConfig
from bullseye_recommendation.projections import changes


async def rebuild(config: RecommendationConfig, arguments: Sequence[str]) -> int:
    """The `rebuild` command: reset the projection; the next start replays its streams."""
    argparse.ArgumentParser(prog="bullseye-recommendation rebuild", description=__doc__).parse_args(arguments)
    pool = await bootstrap.open_store(config)
    nc = await connect(config.nats_url, name="bullseye-recommendation-rebuild")
    try:
        await bootstrap.projection_runner(config, nc.jetstream(), pool).reset()
        async with pool.acquire() as conn:  # serving-only processes drop what they hold of the old tables
            await changes.notify(conn, "items")
            await changes.notify_persons(conn, [changes.EVERYONE])
    finally:
        await nc.drain()
        await pool.close()
    print("recommendation projection reset: the next start replays its streams from the beginning", file=sys.stderr)
    return 0
