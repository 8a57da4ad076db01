"""Event-history conditions, answered from what a profile keeps about events.

A profile keeps counts per event type over fixed rolling windows (1, 7, 30, 90 days and
lifetime) and the last time of each event type. So `event_count` takes one of those
windows, and `not_followed_by` ("added to cart in the last day and no order since") compares
the last times of two event types; any window up to 365 days works for the latter.
"""

from __future__ import annotations

from collections.abc import Callable

from bullseye.profile.v1.profile_pb2 import EventCounts, EventTimes, Profile
from bullseye.profile.v1.segments_pb2 import NotFollowedBy
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message

from bullseye_profile.segments.literals import MAX_AGO_NANOS, LiteralError, duration_nanos

DAY = 86_400
_WINDOWS = {DAY: "counts_1d", 7 * DAY: "counts_7d", 30 * DAY: "counts_30d", 90 * DAY: "counts_90d"}
COUNTED = tuple(f.name for f in EventCounts.DESCRIPTOR.fields)
TIMED = tuple(f.name for f in EventTimes.DESCRIPTOR.fields)


class ConditionError(ValueError):
    """A bad event condition; `field` is the path of the offending field in the request."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _event_type(name: str, known: tuple[str, ...], field: str) -> str:
    if name not in known:
        raise ConditionError(field, f"unknown event type {name[:60]!r}; one of: {', '.join(known)}")
    return name


def count_getter(event_type: str, window: Duration | None, at: str) -> Callable[[Profile], int]:
    """How many `event_type` events a profile counted in `window` (None: lifetime).

    Raises:
        ConditionError: unknown event type, or a window the profile does not keep.
    """
    name = _event_type(event_type, COUNTED, f"{at}.event_type")
    if window is None:
        counts = "counts_lifetime"
    elif window.nanos == 0 and window.seconds in _WINDOWS:
        counts = _WINDOWS[window.seconds]
    else:
        raise ConditionError(
            f"{at}.window",
            "profiles count events over 1d (86400s), 7d, 30d or 90d, or lifetime (leave unset); "
            "for any other window use not_followed_by or compare behaviour.last_at.<type> with ago",
        )
    return lambda p: int(getattr(getattr(p.behaviour, counts), name))


def not_followed(condition: NotFollowedBy, at: str) -> Callable[[Profile, int], bool]:
    """The last `event_type` is within the window and no `absent_event_type` came at or after it.

    Raises:
        ConditionError: unknown event types, the same type twice, or a bad window.
    """
    first = _event_type(condition.event_type, TIMED, f"{at}.event_type")
    absent = _event_type(condition.absent_event_type, TIMED, f"{at}.absent_event_type")
    if first == absent:
        raise ConditionError(f"{at}.absent_event_type", "must differ from event_type")
    if not condition.HasField("window"):
        raise ConditionError(f"{at}.window", "set a window, e.g. 86400s for one day")
    try:
        window = duration_nanos(condition.window.seconds, condition.window.nanos, limit=MAX_AGO_NANOS)
    except LiteralError as exc:
        raise ConditionError(f"{at}.window", str(exc)) from exc

    def holds(p: Profile, now: int) -> bool:
        times: Message = p.behaviour.last_at
        if not times.HasField(first):
            return False
        last = _nanos(getattr(times, first))
        if last < now - window:
            return False
        return not times.HasField(absent) or _nanos(getattr(times, absent)) < last

    return holds


def _nanos(moment: object) -> int:
    return int(moment.seconds) * 1_000_000_000 + int(moment.nanos)  # type: ignore[attr-defined]
