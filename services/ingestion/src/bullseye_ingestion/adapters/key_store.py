"""API keys in ingestion's own schema."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from bullseye_ingestion.domain.keys import KIND, ApiKey, Scope, Trust, hash_secret, new_key


@dataclass(frozen=True)
class KeyRow:
    """A key as an operator sees it in `keys list`."""

    key_id: str
    source: str
    scopes: list[str]
    trust: str
    rate: float
    burst: float
    created_at: datetime
    revoked_at: datetime | None


class KeyStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(
        self, *, source: str, scopes: set[Scope], rate: float, burst: float, trust: Trust = Trust.UNVERIFIED
    ) -> tuple[str, str]:
        """Store a new key; returns (key id, the full key to show once)."""
        key_id, secret, full = new_key()
        await self._pool.execute(
            "INSERT INTO api_keys (key_id, source, secret_hash, scopes, rate, burst, trust) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            key_id,
            source,
            hash_secret(secret),
            sorted(s.value for s in scopes),
            rate,
            burst,
            trust.value,
        )
        return key_id, full

    async def get(self, key_id: str) -> ApiKey | None:
        row = await self._pool.fetchrow("SELECT * FROM api_keys WHERE key_id = $1", key_id)
        if row is None:
            return None
        return ApiKey(
            kind=KIND,
            key_id=row["key_id"],
            name=row["source"],
            scopes=frozenset(row["scopes"]),
            rate=row["rate"],
            burst=row["burst"],
            secret_hash=row["secret_hash"],
            revoked=row["revoked_at"] is not None,
            trust=Trust(row["trust"]),
        )

    async def list(self) -> list[KeyRow]:
        rows = await self._pool.fetch(
            "SELECT key_id, source, scopes, trust, rate, burst, created_at, revoked_at "
            "FROM api_keys ORDER BY created_at"
        )
        return [KeyRow(**dict(r)) for r in rows]

    async def revoke(self, key_id: str) -> bool:
        """True if a live key was revoked now."""
        status = await self._pool.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL", key_id
        )
        return bool(status.endswith(" 1"))
