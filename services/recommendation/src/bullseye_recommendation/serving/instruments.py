"""Recommendation's own metrics (the platform's cover its projection, outbox, RPCs and stream).

- `recommendation_model_info{version}`: 1 for the version this process serves (0 for the
  ones it served before); no series at 1 means no model is published yet (popular items).
- `recommendation_model_swaps_total{outcome}`: swaps done (`swapped`) and models refused
  (`refused`: the file failed its checksum or could not be loaded; the old one is kept).
- `recommendation_model_load_seconds`: how long loading a model took (the swap itself is
  one assignment).
- `recommendation_served_total{path}`: answers by how they were made (`model`, `no_model`,
  `cold_start`, `not_personalized`).
- `recommendation_impressions_total{outcome}`: impressions `written` to RECO, and `lost`
  (answered by a process that died before writing them, counted by the next one).
- `recommendation_impressions_pending`: answered, not yet written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)


def observed(counts: Counter[str], label: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
    """A callback of an observable counter that reports `counts` (label value -> total) when
    metrics are collected: a call only increments a dict entry, the SDK's per-measurement
    work (~10 us) happens once per scrape instead of once per call."""

    def callback(_options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(total, {label: value}) for value, total in counts.items()]

    return callback


class RecommendationInstruments:
    def __init__(self) -> None:
        meter = metrics.get_meter("bullseye.recommendation")
        self._info = meter.create_gauge("recommendation_model_info", description="1 for the model version served")
        self._swaps = meter.create_counter("recommendation_model_swaps", description="model swaps, by outcome")
        self._load = meter.create_histogram(
            "recommendation_model_load", unit="s", description="time to load a published model",
            explicit_bucket_boundaries_advisory=SECONDS,
        )  # fmt: skip
        self._served: Counter[str] = Counter()
        meter.create_observable_counter(
            "recommendation_served", callbacks=[observed(self._served, "path")],
            description="answers, by how they were made",
        )  # fmt: skip
        self._impressions = meter.create_counter("recommendation_impressions", description="impressions, by outcome")
        self._pending = meter.create_gauge("recommendation_impressions_pending", description="not yet written")
        self._version = ""

    def swapped(self, version: str, seconds: float) -> None:
        if self._version:
            self._info.set(0, {"version": self._version})
        self._info.set(1, {"version": version})
        self._version = version
        self._swaps.add(1, {"outcome": "swapped"})
        self._load.record(seconds)

    def refused(self) -> None:
        self._swaps.add(1, {"outcome": "refused"})

    def served(self, path: str) -> None:
        self._served[path] += 1

    def impressions(self, outcome: str, count: int) -> None:
        if count:
            self._impressions.add(count, {"outcome": outcome})

    def pending(self, count: int) -> None:
        self._pending.set(count)
