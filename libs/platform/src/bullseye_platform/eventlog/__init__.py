"""The event log: streams, partitioned subjects, idempotent group-commit appends, consumers."""

from bullseye_platform.eventlog.connection import connect
from bullseye_platform.eventlog.consumer import LogRecord, PartitionConsumer
from bullseye_platform.eventlog.streams import Durability, StreamSpec, ensure_stream
from bullseye_platform.eventlog.subjects import (
    ALL_PARTITIONS,
    CORRECTION_KIND,
    kind_of,
    partition_filter,
    partition_of,
    subject_for,
)
from bullseye_platform.eventlog.writer import Appended, AppendError, LogMessage, LogWriter

__all__ = [
    "ALL_PARTITIONS",
    "CORRECTION_KIND",
    "AppendError",
    "Appended",
    "Durability",
    "LogMessage",
    "LogRecord",
    "LogWriter",
    "PartitionConsumer",
    "StreamSpec",
    "connect",
    "ensure_stream",
    "kind_of",
    "partition_filter",
    "partition_of",
    "subject_for",
]
