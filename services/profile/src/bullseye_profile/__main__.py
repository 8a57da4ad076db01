"""`python -m bullseye_profile [serve|migrate|config]` — the profile process."""

from __future__ import annotations

import logging

from bullseye_platform.service import run_service, settle_heap

from bullseye_profile import bootstrap
from bullseye_profile.config import PREFIX, ProfileConfig

log = logging.getLogger("bullseye_profile")


async def serve(config: ProfileConfig) -> None:
    async with bootstrap.build(config) as profile:
        port = await profile.server.start()
        settle_heap()
        log.info("profile ready", extra={"grpc_port": port})
        await profile.server.serve_until_signal(profile.workers)


async def migrate_only(config: ProfileConfig) -> None:
    pool = await bootstrap.open_store(config)
    await pool.close()


def main(argv: list[str] | None = None) -> int:
    return run_service(
        argv,
        name="profile",
        config_type=ProfileConfig,
        prefix=PREFIX,
        serve=serve,
        migrate=migrate_only,
        metrics_port=lambda c: c.metrics_port,
        log_level=lambda c: c.log_level,
    )


if __name__ == "__main__":
    raise SystemExit(main())
