"""A job worker's instruments: how much each queue runs, and how busy its lane is.

- `jobs_run_total{queue}`: jobs claimed and run (done, moved to a later time, or failed).
- `jobs_pass_duration_seconds{queue}`: wall time of each pass that claimed work, from the claim
  to the next due time read after the commit. A lane runs one pass at a time, so
  `rate(jobs_pass_duration_seconds_sum)` is the share of time it is busy: near 1, that lane is
  what holds its queue back (campaign's handoff lane was, at 93% in a broadcast). Workers of
  every process share a queue, so more processes add lanes.
"""

from __future__ import annotations

import time

from opentelemetry import metrics

from bullseye_platform.instruments.tally import Count, tally

SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class JobInstruments:
    """Attribute sets are built once per queue: a lane reports every pass."""

    def __init__(self) -> None:
        self._runs = tally("bullseye.jobs", "jobs_run", description="jobs claimed and run, by queue")
        self._durations = metrics.get_meter("bullseye.jobs").create_histogram(
            "jobs_pass_duration", unit="s", description="wall time of a lane's pass that claimed work",
            explicit_bucket_boundaries_advisory=SECONDS,
        )  # fmt: skip
        self._queues: dict[str, tuple[Count, dict[str, str]]] = {}

    def passed(self, queue: str, jobs: int, started: float) -> None:
        """A pass that began at `started` (time.perf_counter) ran `jobs` jobs of `queue`."""
        bound = self._queues.get(queue)
        if bound is None:
            attributes = {"queue": queue}
            bound = self._queues[queue] = (self._runs.bind(attributes), attributes)
        count, attributes = bound
        count.add(jobs)
        self._durations.record(time.perf_counter() - started, attributes)
