"""Where an intake appends: one stream's writer, its subject prefix and its partitions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bullseye_platform.eventlog import Appended, AppendError, LogMessage, LogWriter, partition_of, subject_for
from bullseye_platform.grpc import Unavailable


@dataclass(frozen=True)
class LogTarget:
    writer: LogWriter
    subject_prefix: str
    partitions: int

    def subject(self, key: str, kind: str) -> str:
        """`<prefix>.<partition of key>.<kind>`: one key's records in one partition, in order."""
        return subject_for(self.subject_prefix, partition_of(key, self.partitions), kind)

    async def append(self, messages: Sequence[LogMessage], *, what: str, retry: str) -> list[Appended]:
        """Append durably, in order; `what` and `retry` word the error.

        Raises:
            Unavailable: the log did not acknowledge.
        """
        try:
            return await self.writer.append(messages)
        except AppendError as exc:
            raise Unavailable(
                f"the log did not acknowledge the {what} ({exc}); {retry}", reason="LOG_UNAVAILABLE"
            ) from exc
