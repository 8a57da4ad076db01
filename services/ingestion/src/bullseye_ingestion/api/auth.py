"""Event sources' API keys, as one more kind of credential of the platform's guard, and their
rate limits.

The guard (bullseye_platform.auth) admits every call, tokens and API keys alike, with the
method's scope; ingestion adds how a `bk_...` key is checked (its own table) and how fast a
key may send. Keys are cached for `cache_ttl` seconds so a call costs no database round
trip; a revocation therefore takes effect within that time on every replica.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from bullseye_platform.auth import Principal
from bullseye_platform.grpc import ResourceExhausted, Unauthenticated

from bullseye_ingestion.adapters.key_store import KeyStore
from bullseye_ingestion.domain.keys import ApiKey, split_key
from bullseye_ingestion.domain.ratelimit import RateLimiter


class ApiKeys:
    """The `Authenticator` of event sources: every credential that is not a token is taken
    for an API key (here, it can be nothing else)."""

    describes = "an API key (`authorization: Bearer bk_...`, or `x-api-key: bk_...`)"

    def __init__(self, keys: KeyStore, *, cache_ttl: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._keys, self._ttl, self._clock = keys, cache_ttl, clock
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    async def _lookup(self, key_id: str) -> ApiKey | None:
        hit = self._cache.get(key_id)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            return hit[1]
        key = await self._keys.get(key_id)
        self._cache[key_id] = (self._clock(), key)
        return key

    async def authenticate(self, credential: str) -> ApiKey:
        """The key presented.

        Raises:
            Unauthenticated: a malformed, unknown or revoked key.
        """
        parts = split_key(credential)
        key = await self._lookup(parts[0]) if parts else None
        if parts is None or key is None or not key.matches(parts[1]):
            raise Unauthenticated("the API key is not valid", reason="API_KEY_INVALID")
        if key.revoked:
            raise Unauthenticated(f"API key {key.key_id} was revoked", reason="API_KEY_REVOKED")
        return key


class Throttle:
    """A token bucket per API key; service and operator tokens are not limited here."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._limiter = RateLimiter(clock)

    def take(self, caller: Principal, events: int) -> None:
        """Take `events` tokens from the caller's bucket, if it has one.

        Raises:
            ResourceExhausted: over the key's rate; RetryInfo says when to retry.
        """
        if not isinstance(caller, ApiKey):
            return
        key = caller
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
