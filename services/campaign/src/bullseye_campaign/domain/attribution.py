"""Conversion attribution: which message (if any) a conversion is credited to.

A conversion counts for a message when it happens within the goal's window after the send
or, with SEND_OR_CLICK, after a click on it (a click restarts the window). When several
messages qualify, the latest touch wins (last touch), so one conversion is credited once.
The control's "touch" is the moment the person was assigned: the same window then measures
what would have happened without a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bullseye.campaign.v1 import definition_pb2 as cpb


@dataclass(frozen=True)
class Touch:
    """A message the person got (or, for the control, the assignment) and their clicks on it."""

    message_id: str
    at: datetime
    clicks: tuple[datetime, ...] = field(default=())


def attribute(goal: cpb.ConversionGoal, touches: Sequence[Touch], converted_at: datetime) -> str | None:
    """The message credited with a conversion at `converted_at`, or None."""
    window = goal.attribution_window.ToTimedelta()
    with_clicks = goal.basis == cpb.ATTRIBUTION_BASIS_SEND_OR_CLICK
    best: tuple[datetime, str] | None = None
    for touch in touches:
        latest = _latest_start(touch, converted_at, window, with_clicks=with_clicks)
        if latest is not None and (best is None or latest > best[0]):
            best = (latest, touch.message_id)
    return best[1] if best else None


def _latest_start(touch: Touch, converted_at: datetime, window: timedelta, *, with_clicks: bool) -> datetime | None:
    """The latest moment of `touch` whose window holds the conversion."""
    starts = [touch.at, *(touch.clicks if with_clicks else ())]
    inside = [start for start in starts if start <= converted_at <= start + window]
    return max(inside) if inside else None
