"""The outbox's instruments: facts relayed, relays that failed, and the backlog.

- `outbox_relayed_total`: facts moved from the outbox table to the stream.
- `outbox_relay_failures_total`: relay rounds that failed and will be retried.
- `outbox_backlog_rows`, `outbox_oldest_age_seconds` (sampled): facts waiting, and how
  long the oldest has waited; a backlog that grows means facts do not reach the stream
  (NATS down, the relay stuck).

A service has one outbox (in its schema) and its own metrics endpoint, so the scrape's
`job` label says whose outbox it is; the series carry no label of their own.
"""

from __future__ import annotations

import asyncpg
from opentelemetry import metrics

from bullseye_platform.instruments.sampled import Probe


class OutboxInstruments:
    def __init__(self) -> None:
        meter = metrics.get_meter("bullseye.outbox")
        self._relayed = meter.create_counter("outbox_relayed", description="facts relayed to the stream")
        self._failures = meter.create_counter("outbox_relay_failures", description="relay rounds failed (retried)")

    def relayed(self, count: int) -> None:
        self._relayed.add(count)

    def failed(self) -> None:
        self._failures.add(1)


def outbox_backlog(pool: asyncpg.Pool) -> Probe:
    """A probe of the facts waiting in the outbox of the pool's schema."""
    meter = metrics.get_meter("bullseye.outbox")
    rows = meter.create_gauge("outbox_backlog_rows", description="facts waiting in the outbox")
    age = meter.create_gauge("outbox_oldest_age", unit="s", description="how long the oldest waiting fact has waited")

    async def probe() -> None:
        found = await pool.fetchrow(
            "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age FROM outbox"
        )
        assert found is not None
        rows.set(int(found["n"]))
        age.set(float(found["age"]))

    return probe
