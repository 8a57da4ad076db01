"""Token buckets: each API key may send `rate` events per second, bursting to `burst`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """A bucket refilled continuously at `rate` tokens/s up to `burst`."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.stamp = self.clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self, count: float) -> float:
        """Take `count` tokens; returns 0.0 on success, else seconds until they would be there.

        A request larger than `burst` can never pass; its wait is reported as if the bucket
        were full, and callers report the limit instead.
        """
        self._refill()
        if count <= self.tokens:
            self.tokens -= count
            return 0.0
        missing = count - self.tokens
        return missing / self.rate if self.rate > 0 else float("inf")


class RateLimiter:
    """One bucket per API key, created on first use with that key's limits."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._clock = clock

    def take(self, key_id: str, count: int, *, rate: float, burst: float) -> float:
        bucket = self._buckets.get(key_id)
        if bucket is None or (bucket.rate, bucket.burst) != (rate, burst):
            bucket = self._buckets[key_id] = TokenBucket(rate, burst, self._clock)
        return bucket.take(count)
