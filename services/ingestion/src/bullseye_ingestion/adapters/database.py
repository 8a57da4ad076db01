"""Ingestion's PostgreSQL schema, migrated: shared by the service and the key tool.

Kept apart from bootstrap.py so the key tool starts without importing gRPC and the
service wiring (a second per key creation otherwise).
"""

from __future__ import annotations

import asyncpg
from bullseye_platform.store import open_migrated_pool

from bullseye_ingestion.config import IngestionConfig


async def open_store(config: IngestionConfig) -> asyncpg.Pool:
    """The pool, with migrations applied (also what `bullseye-ingestion migrate` runs)."""
    return await open_migrated_pool(config.database_url, schema=config.schema, package="bullseye_ingestion")
