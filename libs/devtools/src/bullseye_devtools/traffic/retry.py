"""When to call ingestion again: which errors are worth it, and how long to wait first.

Retrying is always safe here because ingestion is idempotent on event_id: a batch that was
in fact stored before the error comes back as duplicates, never as a second copy.
"""

from __future__ import annotations

import random
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

DETAILS_KEY = "grpc-status-details-bin"
MAX_BACKOFF = 5.0


def retry_info(error: grpc.aio.AioRpcError) -> float | None:
    """The server's RetryInfo delay in seconds, read from the rich status in the trailers."""
    trailers: Any = error.trailing_metadata() or ()  # the stubs type the pairs loosely
    for key, value in trailers:
        if key != DETAILS_KEY or not isinstance(value, bytes):
            continue
        for detail in status_pb2.Status.FromString(value).details:
            if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                return float(info.retry_delay.ToNanoseconds()) / 1e9
    return None


def delay_before_retry(error: grpc.aio.AioRpcError, attempt: int, *, base: float, rng: random.Random) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None when retrying cannot help.

    RESOURCE_EXHAUSTED without RetryInfo is a hard limit (a request over the size limit or
    the key's burst): the same request would fail again, so it is final.
    """
    code, hinted = error.code(), retry_info(error)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        # A little jitter above the hint so that throttled callers do not return in lockstep.
        return None if hinted is None else float(hinted * rng.uniform(1.0, 1.2))
    if code == grpc.StatusCode.UNAVAILABLE:
        exponential = min(MAX_BACKOFF, base * 2**attempt) * rng.uniform(0.5, 1.0)
        return float(max(hinted or 0.0, exponential))
    return None
