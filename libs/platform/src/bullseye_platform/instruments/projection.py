"""A projection runner's instruments: how much it applies, how fast, how far behind.

- `projection_records_total{projection, stream, partition}`: records processed (applied,
  skipped as redelivered, or set aside); its rate is the processing rate per partition.
- `projection_position{projection, stream, partition}`: the stream sequence a partition has
  reached here; a partition whose position stands still while its consumer lags is stuck.
- `projection_batch_records` and `projection_batch_duration_seconds{projection}`: size and
  wall time of each batch (one transaction), fetched to acked.
- `projection_delay_seconds{projection, stream}`: from the last record of a batch being
  stored in the stream to the batch being acked here: how stale the projection is.
- `projection_dead_letters_total{projection, stream, partition}`: records set aside.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from opentelemetry import metrics

from bullseye_platform.eventlog.consumer import LogRecord
from bullseye_platform.eventlog.subjects import ALL_PARTITIONS

BATCH_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def partition_label(partition: int) -> str:
    """'all' for a reader of the whole stream in one order (identity), else the number."""
    return "all" if partition == ALL_PARTITIONS else str(partition)


class ProjectionInstruments:
    """The instruments of one projection over one stream; attribute sets are built once."""

    def __init__(self, projection: str, stream: str) -> None:
        meter = metrics.get_meter("bullseye.projection")
        self._records = meter.create_counter("projection_records", description="records processed, per partition")
        self._position = meter.create_gauge("projection_position", description="stream sequence reached, per partition")
        self._sizes = meter.create_histogram(
            "projection_batch_records", description="records per batch", explicit_bucket_boundaries_advisory=BATCH_SIZES
        )
        self._durations = meter.create_histogram(
            "projection_batch_duration", unit="s", description="batch wall time, fetched to acked",
            explicit_bucket_boundaries_advisory=SECONDS,
        )  # fmt: skip
        self._delays = meter.create_histogram(
            "projection_delay", unit="s", description="stored in the stream to acked by the projection",
            explicit_bucket_boundaries_advisory=SECONDS,
        )  # fmt: skip
        self._dead = meter.create_counter("projection_dead_letters", description="records set aside, per partition")
        self._attributes = {"projection": projection, "stream": stream}
        self._per_partition: dict[int, dict[str, str]] = {}

    def processed(self, records: Sequence[LogRecord], started: float) -> None:
        """A batch fetched at `started` (time.perf_counter) was acked just now."""
        self._sizes.record(len(records), self._attributes)
        self._durations.record(time.perf_counter() - started, self._attributes)
        stored: datetime = records[-1].msg.metadata.timestamp
        self._delays.record(max(0.0, (datetime.now(UTC) - stored).total_seconds()), self._attributes)
        counts: dict[int, int] = {}
        reached: dict[int, int] = {}
        for record in records:
            counts[record.partition] = counts.get(record.partition, 0) + 1
            reached[record.partition] = record.seq
        for partition, count in counts.items():
            attributes = self._of(partition)
            self._records.add(count, attributes)
            self._position.set(reached[partition], attributes)

    def dead_lettered(self, record: LogRecord) -> None:
        self._dead.add(1, self._of(record.partition))

    def _of(self, partition: int) -> dict[str, str]:
        attributes = self._per_partition.get(partition)
        if attributes is None:
            attributes = self._per_partition[partition] = {**self._attributes, "partition": partition_label(partition)}
        return attributes
