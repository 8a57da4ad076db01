"""`python -m bullseye_ingestion [serve|migrate|config]` — the ingestion process."""

from __future__ import annotations

import logging

from bullseye_platform.service import run_service, settle_heap

from bullseye_ingestion import bootstrap
from bullseye_ingestion.adapters.database import open_store
from bullseye_ingestion.config import PREFIX, IngestionConfig

log = logging.getLogger("bullseye_ingestion")


async def serve(config: IngestionConfig) -> None:
    async with bootstrap.build(config) as ingestion:
        port = await ingestion.server.start()
        settle_heap()
        log.info("ingestion ready", extra={"grpc_port": port})
        await ingestion.server.serve_until_signal()


async def migrate_only(config: IngestionConfig) -> None:
    pool = await open_store(config)
    await pool.close()


def main(argv: list[str] | None = None) -> int:
    return run_service(
        argv,
        name="ingestion",
        config_type=IngestionConfig,
        prefix=PREFIX,
        serve=serve,
        migrate=migrate_only,
        metrics_port=lambda c: c.metrics_port,
        log_level=lambda c: c.log_level,
    )


if __name__ == "__main__":
    raise SystemExit(main())
