"""`python -m bullseye_identity rebuild`: forget everything identity derived from EVENTS, so that
the next start replays EVENTS from the beginning (run it with identity stopped).

EVENTS holds every event and every operator's correction (docs/design.md D1), so the replay
rebuilds the graph, the vault's contacts, the corrections' outcomes and RESOLVED as they were.
Kept: `data_keys` (emptying it would shred every person's personal data).

RESOLVED is deleted and created again, empty, rather than purged: JetStream keeps the
message ids of its duplicate window through a purge (nats-server 2.15 answers a re-publish
after a purge as a duplicate), so the replay's records, whose ids derive from their causes
and equal the old ones, would be dropped. Its sequences start again at 1, so every consumer
of RESOLVED must be rebuilt too before it starts (`python -m bullseye_profile rebuild`).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from bullseye_platform.eventlog import connect, ensure_stream
from nats.js.errors import NotFoundError

from bullseye_identity import bootstrap
from bullseye_identity.config import IdentityConfig


async def forget(config: IdentityConfig) -> None:
    pool = await bootstrap.open_store(config)
    nc = await connect(config.nats_url, name="bullseye-identity-rebuild")
    js = nc.jetstream()
    try:
        runner = bootstrap.resolution_runner(config, js=js, pool=pool, keys=bootstrap.keyring(config, pool))
        await runner.reset()  # the graph's tables, the position, the consumer of EVENTS
        # Facts of the old run not relayed yet would land in the new RESOLVED before their replay.
        await pool.execute("TRUNCATE outbox")
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(config.stream)
        await ensure_stream(js, config.owned_stream())
    finally:
        await nc.drain()
        await pool.close()


async def rebuild(config: IdentityConfig, arguments: Sequence[str]) -> int:
    """The `rebuild` command (bullseye_platform.service.run_service): forget, then say what is next."""
    argparse.ArgumentParser(prog="bullseye-identity rebuild", description=__doc__).parse_args(arguments)
    await forget(config)
    print(
        f"identity reset: the next start replays {config.events_stream} from the beginning into an empty "
        f"{config.stream}; rebuild every consumer of {config.stream} (python -m bullseye_profile rebuild) before "
        "starting it",
        file=sys.stderr,
    )
    return 0
