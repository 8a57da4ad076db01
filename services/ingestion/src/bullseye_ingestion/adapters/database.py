"""Ingestion's PostgreSQL schema, migrated: shared by the service and the key tool.

Kept apart from bootstrap.py so the key tool starts without importing gRPC and the
service wiring (a second per key creation otherwise).
"""

from __future__ import annotations

import asyncpg
from bullseye_platform.store import create_pool, migrate

from bullseye_ingestion.config import IngestionConfig

MIGRATIONS = "bullseye_ingestion"


async def open_store(config: IngestionConfig) -> asyncpg.Pool:
    """The pool, with migrations applied (also what `bullseye-ingestion migrate` runs)."""
    pool = await create_pool(config.database_url, schema=config.schema)
    async with pool.acquire() as conn:
        await migrate(conn, schema=config.schema, package=MIGRATIONS)
    return pool
