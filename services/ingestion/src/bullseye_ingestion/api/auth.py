"""Who is calling, may they, and how fast: API key from metadata, scopes, rate limit.

Keys are cached for `cache_ttl` seconds so a call costs no database round-trip; a
revocation therefore takes effect within that time on every replica.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

from bullseye_platform.grpc import PermissionDenied, ResourceExhausted, Unauthenticated

from bullseye_ingestion.adapters.key_store import KeyStore
from bullseye_ingestion.domain.keys import ApiKey, Scope, split_key
from bullseye_ingestion.domain.ratelimit import RateLimiter

MISSING_KEY = "an API key is required: send it in the `x-api-key` metadata or as `authorization: Bearer <key>`"


def presented_key(metadata: Sequence[tuple[str, str | bytes]]) -> str | None:
    for name, value in metadata:
        if not isinstance(value, str):
            continue
        if name == "x-api-key":
            return value
        if name == "authorization" and value.lower().startswith("bearer "):
            return value[7:]
    return None


def _names(key: ApiKey) -> list[str]:
    return sorted(s.value for s in key.scopes)


class Gatekeeper:
    """Authenticates, authorizes and rate-limits each call."""

    def __init__(self, keys: KeyStore, *, cache_ttl: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._keys, self._ttl, self._clock = keys, cache_ttl, clock
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._limiter = RateLimiter(clock)

    async def _lookup(self, key_id: str) -> ApiKey | None:
        hit = self._cache.get(key_id)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        key = await self._keys.get(key_id)
        self._cache[key_id] = (self._clock(), key)
        return key

    async def authenticate(
        self, metadata: Sequence[tuple[str, str | bytes]], *, scope: Scope = Scope.WRITE, backfill: bool = False
    ) -> ApiKey:
        """The caller's key, which has `scope`.

        Raises:
            Unauthenticated: no key, a malformed, unknown or revoked key.
            PermissionDenied: a key without `scope`, or backfill asked for without the backfill scope.
        """
        presented = presented_key(metadata)
        if presented is None:
            raise Unauthenticated(MISSING_KEY, reason="API_KEY_MISSING")
        parts = split_key(presented)
        key = await self._lookup(parts[0]) if parts else None
        if parts is None or key is None or not key.matches(parts[1]):
            raise Unauthenticated("the API key is not valid", reason="API_KEY_INVALID")
        if key.revoked:
            raise Unauthenticated(f"API key {key.key_id} was revoked", reason="API_KEY_REVOKED")
        if not key.can(scope):
            raise PermissionDenied(
                f"this call needs the {scope.value} scope; key {key.key_id} has only {_names(key)}",
                reason="SCOPE_MISSING",
            )
        if backfill and not key.can(Scope.BACKFILL):
            raise PermissionDenied(
                f"backfill=true needs the backfill scope; key {key.key_id} has only {_names(key)}",
                reason="BACKFILL_SCOPE_MISSING",
            )
        return key

    def throttle(self, key: ApiKey, events: int) -> None:
        """Take `events` tokens from the key's bucket.

        Raises:
            ResourceExhausted: over the key's rate; RetryInfo says when to retry.
        """
        if events > key.burst:
            raise ResourceExhausted(
                f"a request of {events} events exceeds key {key.key_id}'s burst of {key.burst:g}; send smaller batches",
                subject=f"api_key:{key.key_id}",
                limit=f"{key.rate:g} events/s, burst {key.burst:g}",
            )
        wait = self._limiter.take(key.key_id, events, rate=key.rate, burst=key.burst)
        if wait > 0:
            raise ResourceExhausted(
                f"key {key.key_id} is over its rate of {key.rate:g} events/s (burst {key.burst:g}); "
                f"retry in {math.ceil(wait * 1000)} ms",
                retry_after=wait,
                subject=f"api_key:{key.key_id}",
                limit=f"{key.rate:g} events/s, burst {key.burst:g}",
            )
