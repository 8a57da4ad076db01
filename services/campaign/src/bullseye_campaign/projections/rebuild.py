"""`python -m bullseye_campaign rebuild`: forget what campaign folded from RESOLVED and PROFILE, so
that the next start replays both from the beginning (run it with the service stopped).

The projection's tables (aliases, consent statements, time zones, segments and members, exits,
conversions), its positions and its NATS consumers are dropped and a quiet replay is requested
(bullseye_platform.replay): the next start folds the streams back without entering anyone, so
nothing is sent again. What campaign decided and sent (participants, decisions, deliveries) is
kept: it is the record of what happened, not a fold of the log.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bullseye_platform import replay
from bullseye_platform.eventlog import connect

from bullseye_campaign import bootstrap
from bullseye_campaign.config import CampaignConfig
from bullseye_campaign.projections.campaign import NAME


async def rebuild(config: CampaignConfig, arguments: Sequence[str]) -> int:
    """The `rebuild` command: reset the projection; the next start replays it quietly."""
    argparse.ArgumentParser(prog="bullseye-campaign rebuild", description=__doc__).parse_args(arguments)
    pool = await bootstrap.open_store(config)
    nc = await connect(config.nats_url, name="bullseye-campaign-rebuild")
    try:
        await bootstrap.projection_runner(config, nc.jetstream(), pool).reset()
        async with pool.acquire() as conn, conn.transaction():
            await replay.request(conn, NAME)
    finally:
        await nc.drain()
        await pool.close()
    print("campaign projection reset: the next start replays RESOLVED and PROFILE quietly", file=sys.stderr)
    return 0
