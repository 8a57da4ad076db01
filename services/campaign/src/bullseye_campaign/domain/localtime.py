"""Wall-clock times in a person's time zone, exact across daylight-saving changes.

Caps count "today" from local midnight and quiet hours end at a local time; on the days
clocks change, a local time can be missing (spring forward) or happen twice (fall back).
Python maps a missing time with the offset before the change, which lands up to an hour
late; here the answer is the first instant whose local clock reads the time or later, and
for a repeated time its first occurrence.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SECOND = timedelta(seconds=1)


def zone(name: str, fallback: str = "") -> ZoneInfo:
    """The person's zone, else the campaign's fallback, else UTC (an unknown name counts as none)."""
    for candidate in (name, fallback):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (KeyError, ValueError):
                continue
    return ZoneInfo("UTC")


@functools.lru_cache(maxsize=4096)
def local_start(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The first UTC instant at which the local clock in `tz` reads `day` `wall` or later.

    Cached: a send batch asks it for each person's calendar-day cap and quiet hours, mostly for
    the same few days and zones (a pure function of its arguments).
    """
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first  # the time exists; fold=0 is its first occurrence when it repeats
    # In a gap: the clock jumps over `wall`, so the answer is the instant of the jump, which
    # lies between the two readings of the missing time; zone offsets change on whole seconds.
    low, high = naive.replace(tzinfo=tz, fold=1).astimezone(UTC), first
    low, high = min(low, high), max(low, high)
    while high - low > SECOND:
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0) if high.microsecond else high
