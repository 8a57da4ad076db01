"""Structured JSON logs that carry the current trace and span ids.

A log line says what happened and to which id; callers never pass personal data.

Services log from their hot paths, so a record costs only what its line shows: the line
has no thread, process or source location, so records skip collecting them (the source
location is a walk up the stack per record); the timestamp's date and time of day are
formatted once a second; one JSON encoder is reused rather than built per line.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from opentelemetry import trace

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_ENCODER = json.JSONEncoder(default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, trace ids, extra fields."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service
        self._second, self._stamp = -1, ""  # the last second formatted (records come in order, mostly)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._timestamp(record),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            entry["trace_id"] = format(span.trace_id, "032x")
            entry["span_id"] = format(span.span_id, "016x")
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)

    def _timestamp(self, record: logging.LogRecord) -> str:
        """UTC, milliseconds, e.g. 2026-11-23T15:04:05.123Z."""
        second = int(record.created)
        if second != self._second:
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int(record.msecs):03d}Z"


def configure_logging(service: str, *, level: str = "info") -> None:
    """Send every logger's records as JSON lines to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("nats", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # What JsonFormatter never shows, records need not collect (see the module docstring).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
