"""`python -m bullseye_ingestion [serve|migrate|config|keys ...]` — the ingestion process and its key tool."""

from __future__ import annotations

from bullseye_platform.service import run_service

from bullseye_ingestion import bootstrap
from bullseye_ingestion.adapters.database import open_store
from bullseye_ingestion.api.key_commands import keys
from bullseye_ingestion.config import PREFIX, IngestionConfig


def main(argv: list[str] | None = None) -> int:
    return run_service(
        argv,
        name="ingestion",
        config_type=IngestionConfig,
        prefix=PREFIX,
        build=bootstrap.build,
        open_store=open_store,
        commands={"keys": keys},
    )


if __name__ == "__main__":
    raise SystemExit(main())
