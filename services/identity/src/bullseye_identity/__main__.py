"""`python -m bullseye_identity [serve|migrate|config]` — the identity process."""

from __future__ import annotations

import logging

from bullseye_platform.service import run_service, settle_heap

from bullseye_identity import bootstrap
from bullseye_identity.config import PREFIX, IdentityConfig

log = logging.getLogger("bullseye_identity")


async def serve(config: IdentityConfig) -> None:
    async with bootstrap.build(config) as identity:
        port = await identity.server.start()
        settle_heap()
        log.info("identity ready", extra={"grpc_port": port})
        await identity.server.serve_until_signal(identity.workers)


async def migrate_only(config: IdentityConfig) -> None:
    pool = await bootstrap.open_store(config)
    await pool.close()


def main(argv: list[str] | None = None) -> int:
    return run_service(
        argv,
        name="identity",
        config_type=IdentityConfig,
        prefix=PREFIX,
        serve=serve,
        migrate=migrate_only,
        metrics_port=lambda c: c.metrics_port,
        log_level=lambda c: c.log_level,
    )


if __name__ == "__main__":
    raise SystemExit(main())
