"""PostgreSQL: one schema per service, forward-only migrations, batched writes."""

from bullseye_platform.store.batch import bulk_upsert
from bullseye_platform.store.migrations import Migration, MigrationError, migrate, open_migrated_pool
from bullseye_platform.store.pool import create_pool, quote_ident

__all__ = ["Migration", "MigrationError", "bulk_upsert", "create_pool", "migrate", "open_migrated_pool", "quote_ident"]
