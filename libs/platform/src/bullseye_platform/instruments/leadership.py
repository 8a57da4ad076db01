"""Leadership's instrument: whether this process leads (store/leadership.py)."""

from __future__ import annotations

from opentelemetry import metrics


class LeadershipInstruments:
    """`leadership_leading{lock}`: 1 while this process holds the lock and runs its jobs.

    Summed over a deployment's processes it must be 1: 0 means nobody does the work (an
    alert), 2 cannot happen while PostgreSQL holds the lock for one session only.
    """

    def __init__(self, lock: str) -> None:
        self._gauge = metrics.get_meter("bullseye.leadership").create_gauge(
            "leadership_leading", description="1 while this process holds the leadership lock and runs its jobs"
        )
        self._attributes = {"lock": lock}
        self.leading(False)

    def leading(self, now: bool) -> None:
        self._gauge.set(1 if now else 0, self._attributes)
