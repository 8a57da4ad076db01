"""Collecting what is wrong with a request, field by field, to answer INVALID_ARGUMENT once.

A caller fixing a campaign should see every problem in one answer, each at its path
(`variants[1].weight`, `limits.caps[0].window.rolling`), rather than one per attempt.
"""

from __future__ import annotations

from bullseye_platform.grpc.errors import InvalidArgument, violation
from google.protobuf import duration_pb2
from google.rpc.error_details_pb2 import BadRequest

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


class Violations:
    """An ordered list of field violations under a path prefix."""

    def __init__(self, items: list[BadRequest.FieldViolation] | None = None, prefix: str = "") -> None:
        self._items = items if items is not None else []
        self._prefix = prefix

    def at(self, path: str) -> Violations:
        """The same list, for fields under `path` (e.g. `variants[1]`)."""
        return Violations(self._items, self._path(path))

    def add(self, path: str, description: str) -> None:
        self._items.append(violation(self._path(path), description))

    def required(self, path: str, what: str) -> None:
        self.add(path, f"required to launch: {what}")

    def duration(self, path: str, value: duration_pb2.Duration, *, low: float, high: float, label: str = "") -> None:
        """Check that `value` lies in [low, high] seconds; describe the range in words."""
        seconds = value.seconds + value.nanos / 1e9
        if not low <= seconds <= high:
            self.add(path, f"{label or 'must be'} between {_words(low)} and {_words(high)}, got {_words(seconds)}")

    def __bool__(self) -> bool:
        return bool(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def items(self) -> list[BadRequest.FieldViolation]:
        return list(self._items)

    def raise_if_any(self, message: str) -> None:
        """Raises:
        InvalidArgument: with every violation collected, when there is one.
        """
        if self._items:
            raise InvalidArgument(f"{message}: {len(self._items)} problem(s), see the field violations", self._items)

    def _path(self, path: str) -> str:
        if not self._prefix:
            return path
        return f"{self._prefix}.{path}" if path and not path.startswith("[") else f"{self._prefix}{path}"


def _words(seconds: float) -> str:
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
