"""Limits: frequency caps, lifetime cap, quiet hours, send rates and the fallback time zone."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bullseye.campaign.v1 import definition_pb2 as cpb
from google.type import timeofday_pb2

from bullseye_campaign.domain.violations import DAY, MINUTE, Violations

MAX_CAPS, MAX_CAP, MAX_LIFETIME, MAX_DAYS, MAX_RATE = 20, 1_000, 1_000, 31, 100_000


def check(problems: Violations, campaign: cpb.Campaign) -> None:
    limits = campaign.limits
    where = problems.at("limits")
    if len(limits.caps) > MAX_CAPS:
        where.add("caps", f"at most {MAX_CAPS} caps")
    for i, cap in enumerate(limits.caps):
        _cap(where.at(f"caps[{i}]"), cap)
    if not 0 <= limits.lifetime_cap <= MAX_LIFETIME:
        where.add("lifetime_cap", f"0 (no cap) to {MAX_LIFETIME}")
    if limits.HasField("quiet_hours"):
        _quiet_hours(where.at("quiet_hours"), limits.quiet_hours)
    _send_rates(where, limits.send_rates, set(campaign.channels))
    if limits.default_time_zone and time_zone_problem(limits.default_time_zone):
        where.add("default_time_zone", f"unknown IANA time zone {limits.default_time_zone!r}, e.g. Europe/Paris")


def time_zone_problem(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}"
    return None


def _cap(problems: Violations, cap: cpb.FrequencyCap) -> None:
    if not 1 <= cap.max_messages <= MAX_CAP:
        problems.add("max_messages", f"1 to {MAX_CAP}, got {cap.max_messages}")
    kind = cap.window.WhichOneof("kind")
    if kind is None:
        problems.add("window", "required: calendar_days or rolling")
    elif kind == "calendar_days" and not 1 <= cap.window.calendar_days <= MAX_DAYS:
        problems.add("window.calendar_days", f"1 to {MAX_DAYS} days, got {cap.window.calendar_days}")
    elif kind == "rolling":
        problems.duration("window.rolling", cap.window.rolling, low=MINUTE, high=90 * DAY)


def _quiet_hours(problems: Violations, quiet: cpb.QuietHours) -> None:
    for name in ("start", "end"):
        value: timeofday_pb2.TimeOfDay = getattr(quiet, name)
        if not (0 <= value.hours <= 23 and 0 <= value.minutes <= 59) or value.seconds or value.nanos:
            problems.add(name, "hours 0-23 and minutes 0-59 (no seconds)")
    if (quiet.start.hours, quiet.start.minutes) == (quiet.end.hours, quiet.end.minutes):
        problems.add("end", "must differ from start (an empty or a whole-day window)")


def _send_rates(problems: Violations, rates: Sequence[cpb.SendRate], channels: set[int]) -> None:
    seen: set[int] = set()
    for i, rate in enumerate(rates):
        if rate.channel not in channels or rate.channel in seen:
            problems.add(f"send_rates[{i}].channel", "one rate per campaign channel")
        seen.add(rate.channel)
        if not 1 <= rate.per_second <= MAX_RATE:
            problems.add(f"send_rates[{i}].per_second", f"1 to {MAX_RATE:,} messages per second")
