"""`python -m bullseye_ingestion [serve|migrate|config]` — the ingestion process."""

from __future__ import annotations

import argparse
import asyncio
import logging

from bullseye_platform.config import describe, load_or_exit
from bullseye_platform.logging import configure_logging
from bullseye_platform.telemetry import setup_telemetry

from bullseye_ingestion import bootstrap
from bullseye_ingestion.adapters.database import open_store
from bullseye_ingestion.config import PREFIX, IngestionConfig

log = logging.getLogger("bullseye_ingestion")


async def serve(config: IngestionConfig) -> None:
    telemetry = setup_telemetry("ingestion", metrics_port=config.metrics_port)
    try:
        async with bootstrap.build(config) as ingestion:
            port = await ingestion.server.start()
            log.info("ingestion ready", extra={"grpc_port": port})
            await ingestion.server.serve_until_signal()
    finally:
        telemetry.shutdown()


async def migrate_only(config: IngestionConfig) -> None:
    pool = await open_store(config)
    await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bullseye-ingestion", description="Bullseye ingestion service")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate", "config"])
    args = parser.parse_args(argv)
    if args.command == "config":
        for variable, default, text in describe(IngestionConfig, prefix=PREFIX):
            print(f"{variable:34} {default:22} {text}")
        return 0
    config = load_or_exit(IngestionConfig, prefix=PREFIX, program="bullseye-ingestion")
    configure_logging("ingestion", level=config.log_level)
    asyncio.run(serve(config) if args.command == "serve" else migrate_only(config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
