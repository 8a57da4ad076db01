"""Quiet hours: when a message may leave, in the person's time zone.

A message that falls in quiet hours is held until the window ends, never dropped. The
window is a daily local span; one whose end is before its start spans midnight
(22:00-08:00). Its end is found with `local_start`, so a window ending at a time the clock
skips (02:30 on a spring-forward night) ends when the clock jumps, not an hour later.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bullseye.campaign.v1 import definition_pb2 as cpb

from bullseye_campaign.domain.localtime import local_start


def release_time(quiet: cpb.QuietHours, now: datetime, tz: ZoneInfo) -> datetime | None:
    """When a message held now may leave, or None when `now` is outside quiet hours."""
    start = time(quiet.start.hours, quiet.start.minutes)
    end = time(quiet.end.hours, quiet.end.minutes)
    local = now.astimezone(tz)
    clock, today = local.time().replace(tzinfo=None), local.date()
    if start < end:
        return local_start(today, end, tz) if start <= clock < end else None
    if clock >= start:  # the evening part of a window spanning midnight
        return local_start(today + timedelta(days=1), end, tz)
    if clock < end:  # the morning part
        release = local_start(today, end, tz)
        return release if release > now else None
    return None
