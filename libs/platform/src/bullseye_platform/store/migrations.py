"""Forward-only, versioned SQL migrations per service schema.

Files are `NNNN_name.sql` in a package's `migrations/` folder. The platform's own tables
(projection positions, outbox) come first as versions 0-99 of every schema. Applied
files are checksummed: editing an applied migration stops start-up instead of drifting.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from bullseye_platform.store.pool import Connection, create_pool, quote_ident

log = logging.getLogger(__name__)
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
PLATFORM_PACKAGE = "bullseye_platform.store"


class MigrationError(Exception):
    """A migration file is malformed, edited after it was applied, or failed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(package: str, folder: str = "migrations") -> list[Migration]:
    """The migrations shipped in `package`/`folder`, in version order."""
    found = []
    for entry in resources.files(package).joinpath(folder).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
        elif entry.name.endswith(".sql"):
            raise MigrationError(f"{package}/{folder}/{entry.name}: expected NNNN_name.sql")
    return sorted(found, key=lambda m: m.version)


async def migrate(conn: Connection, *, schema: str, package: str) -> list[Migration]:
    """Apply the platform's and `package`'s pending migrations to `schema`; returns those applied.

    Raises:
        MigrationError: versions collide, an applied file changed, or a statement failed.
    """
    wanted = discover(PLATFORM_PACKAGE, "sql") + discover(package)
    versions = [m.version for m in wanted]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {package}: {sorted(versions)}")
    quoted = quote_ident(schema)
    async with conn.transaction():
        # One migrator at a time per schema: replicas starting together must not race.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {quoted}.schema_migrations ("
            "version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await conn.fetch(f"SELECT version, checksum FROM {quoted}.schema_migrations")
        applied = {r["version"]: r["checksum"] for r in rows}
        done = []
        for migration in wanted:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"{schema}: migration {migration.version:04d}_{migration.name} was edited after it "
                        "was applied; add a new migration instead"
                    )
                continue
            await _apply(conn, quoted, migration)
            done.append(migration)
    return done


async def _apply(conn: Connection, quoted_schema: str, migration: Migration) -> None:
    await conn.execute(f"SET LOCAL search_path TO {quoted_schema}")
    try:
        await conn.execute(migration.sql)
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
    await conn.execute(
        f"INSERT INTO {quoted_schema}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        migration.version,
        migration.name,
        migration.checksum,
    )
    log.info("applied migration", extra={"version": migration.version, "migration": migration.name})


async def open_migrated_pool(
    dsn: str, *, schema: str, package: str, max_size: int = 10, custom_plans: bool = False
) -> asyncpg.Pool:
    """A pool on `schema` with the platform's and `package`'s migrations applied.

    What a service runs at start and what its `migrate` command runs alone.
    """
    pool = await create_pool(dsn, schema=schema, max_size=max_size, custom_plans=custom_plans)
    async with pool.acquire() as conn:
        await migrate(conn, schema=schema, package=package)
    return pool
