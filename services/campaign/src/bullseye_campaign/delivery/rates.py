"""A campaign's send rate per channel: a token bucket per (campaign, channel) in this process.

Handoffs beyond the rate wait for their turn (their job is moved to when the bucket will have
room) rather than being dropped. Per process: several delivery processes each allow the rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class Bucket:
    rate: float  # tokens per second, also the bucket's size (one second of burst)
    tokens: float
    at: datetime


class SendRates:
    def __init__(self) -> None:
        self._buckets: dict[tuple[str, int], Bucket] = {}

    def take(self, campaign_id: str, channel: int, per_second: int, wanted: int, now: datetime) -> int:
        """How many of `wanted` messages may leave now (0 when no rate is set: all may)."""
        if per_second <= 0:
            return wanted
        bucket = self._buckets.get((campaign_id, channel))
        if bucket is None or bucket.rate != per_second:
            bucket = self._buckets[(campaign_id, channel)] = Bucket(per_second, float(per_second), now)
        bucket.tokens = min(bucket.rate, bucket.tokens + (now - bucket.at).total_seconds() * bucket.rate)
        bucket.at = now
        allowed = min(wanted, int(bucket.tokens))
        bucket.tokens -= allowed
        return allowed

    def wait(self, per_second: int, behind: int) -> timedelta:
        """How long the `behind`-th message past the bucket waits for its turn."""
        return timedelta(seconds=behind / per_second)
