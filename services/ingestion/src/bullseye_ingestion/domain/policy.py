"""The limits an event must respect, from config."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class EventPolicy:
    """Sizes in bytes, times in seconds."""

    max_event_bytes: int = 32 * 1024
    max_batch_events: int = 500
    max_request_bytes: int = 1024 * 1024
    future_tolerance: float = 300.0
    live_window: float = 7 * 86400.0
