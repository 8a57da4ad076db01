"""Caps over a person's recorded sends and quiet hours, in the person's time zone, across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye_campaign.domain.caps import Send, full_cap, window_start
from bullseye_campaign.domain.localtime import local_start, zone
from bullseye_campaign.domain.quiet_hours import release_time
from google.protobuf import duration_pb2
from google.type import timeofday_pb2

C = cpb.Channel
PARIS, TOKYO, NEW_YORK = ZoneInfo("Europe/Paris"), ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def per_day(max_messages: int, channel: int = C.CHANNEL_PUSH, **kw: int) -> cpb.Limits:
    window = cpb.CapWindow(calendar_days=1)
    return cpb.Limits(caps=[cpb.FrequencyCap(channel=channel, max_messages=max_messages, window=window, **kw)])


def push(*at: datetime, campaign: str = "spring") -> list[Send]:
    return [Send(campaign, C.CHANNEL_PUSH, moment) for moment in at]


def capped(limits: cpb.Limits, sends: list[Send], now: datetime, tz: ZoneInfo, channel: int = C.CHANNEL_PUSH) -> bool:
    return full_cap(limits, sends, campaign_id="spring", channel=channel, now=now, tz=tz) is not None


def test_a_daily_cap_counts_from_local_midnight() -> None:
    now = utc(2026, 1, 15, 19)  # 20:00 in Paris
    three_today = push(utc(2026, 1, 14, 23, 30), utc(2026, 1, 15, 8), utc(2026, 1, 15, 11))  # 00:30, 09:00, 12:00
    assert capped(per_day(3), three_today, now, PARIS)
    yesterday_and_two = push(utc(2026, 1, 14, 22, 59), utc(2026, 1, 15, 8), utc(2026, 1, 15, 11))  # 23:59 yesterday
    assert not capped(per_day(3), yesterday_and_two, now, PARIS)


def test_the_same_sends_are_today_in_one_zone_and_yesterday_in_another() -> None:
    sends, now = push(utc(2026, 1, 15, 14), utc(2026, 1, 15, 16)), utc(2026, 1, 15, 16, 30)
    assert capped(per_day(2), sends, now, NEW_YORK)  # 09:00 and 11:00 in New York: both today
    assert not capped(per_day(2), sends, now, TOKYO)  # 23:00 on the 15th and 01:00 on the 16th in Tokyo


def test_the_day_clocks_spring_forward_is_23_hours_long() -> None:
    now = utc(2026, 3, 29, 20)  # 22:00 in Paris, after the 02:00 -> 03:00 jump
    assert window_start(per_day(1).caps[0], now, PARIS) == utc(2026, 3, 28, 23)  # local midnight, still +01:00
    assert capped(per_day(1), push(utc(2026, 3, 28, 23, 30)), now, PARIS)  # 00:30 local: today
    assert not capped(per_day(1), push(utc(2026, 3, 28, 22, 30)), now, PARIS)  # 23:30 local the day before


def test_the_day_clocks_fall_back_is_25_hours_long() -> None:
    now = utc(2026, 10, 25, 22, 30)  # 23:30 in Paris, +01:00 since 03:00 -> 02:00
    assert window_start(per_day(1).caps[0], now, PARIS) == utc(2026, 10, 24, 22)  # local midnight at +02:00


def test_several_calendar_days_count_today_and_the_days_before() -> None:
    limits = cpb.Limits(caps=[cpb.FrequencyCap(max_messages=2, window=cpb.CapWindow(calendar_days=3))])
    now = utc(2026, 1, 15, 12)
    assert capped(limits, push(utc(2026, 1, 12, 23, 30), utc(2026, 1, 15, 9)), now, PARIS)  # the 13th, 00:30 local
    assert not capped(limits, push(utc(2026, 1, 12, 22, 30), utc(2026, 1, 15, 9)), now, PARIS)  # the 12th


def test_a_rolling_window_ends_now() -> None:
    rolling = cpb.CapWindow(rolling=duration_pb2.Duration(seconds=24 * 3600))
    limits = cpb.Limits(caps=[cpb.FrequencyCap(max_messages=1, window=rolling)])
    now = utc(2026, 1, 15, 12)
    assert capped(limits, push(utc(2026, 1, 14, 12, 0, 1)), now, PARIS)
    assert not capped(limits, push(utc(2026, 1, 14, 11, 59, 59)), now, PARIS)


def test_a_global_cap_counts_every_channel_and_campaign_a_scoped_one_its_own() -> None:
    other = [Send("other-campaign", C.CHANNEL_EMAIL, utc(2026, 1, 15, 9))]
    now = utc(2026, 1, 15, 12)
    assert capped(per_day(1, channel=C.CHANNEL_UNSPECIFIED), other, now, PARIS)
    scoped = per_day(1, channel=C.CHANNEL_UNSPECIFIED, scope=cpb.CAP_SCOPE_THIS_CAMPAIGN)
    assert not capped(scoped, other, now, PARIS)


def test_a_channel_cap_leaves_other_channels_alone() -> None:
    sends, now = push(utc(2026, 1, 15, 9)), utc(2026, 1, 15, 12)
    assert capped(per_day(1), sends, now, PARIS, channel=C.CHANNEL_PUSH)
    assert not capped(per_day(1), sends, now, PARIS, channel=C.CHANNEL_EMAIL)
    assert not capped(per_day(1), [Send("spring", C.CHANNEL_EMAIL, utc(2026, 1, 15, 9))], now, PARIS)


def test_the_lifetime_cap_counts_this_campaign_ever() -> None:
    limits = cpb.Limits(lifetime_cap=2)
    sends = push(utc(2025, 1, 1), utc(2025, 6, 1)) + push(utc(2026, 1, 1), campaign="other")
    verdict = full_cap(limits, sends, campaign_id="spring", channel=C.CHANNEL_PUSH, now=utc(2026, 1, 15), tz=PARIS)
    assert verdict is not None and verdict.detail == "lifetime cap 2 per person: 2 sent"
    assert not capped(limits, sends[1:], utc(2026, 1, 15), PARIS)


def test_a_capped_verdict_names_the_cap_and_the_local_day() -> None:
    verdict = full_cap(per_day(1), push(utc(2026, 1, 15, 9)), campaign_id="spring", channel=C.CHANNEL_PUSH,
                       now=utc(2026, 1, 15, 12), tz=PARIS)  # fmt: skip
    assert verdict is not None
    assert verdict.detail == (
        "cap PUSH <= 1 per 1 calendar day(s) (all campaigns): 1 sent since 2026-01-15T00:00:00+01:00 (Europe/Paris)"
    )


def quiet(start: tuple[int, int], end: tuple[int, int]) -> cpb.QuietHours:
    return cpb.QuietHours(
        start=timeofday_pb2.TimeOfDay(hours=start[0], minutes=start[1]),
        end=timeofday_pb2.TimeOfDay(hours=end[0], minutes=end[1]),
    )


NIGHT = quiet((22, 0), (8, 0))


@pytest.mark.parametrize(
    ("now", "release"),
    [
        (utc(2026, 1, 15, 22), utc(2026, 1, 16, 7)),  # 23:00 in Paris: held until 08:00 tomorrow
        (utc(2026, 1, 15, 6), utc(2026, 1, 15, 7)),  # 07:00: held until 08:00 today
        (utc(2026, 1, 15, 21), utc(2026, 1, 16, 7)),  # 22:00 exactly: quiet
        (utc(2026, 1, 15, 7), None),  # 08:00 exactly: may leave
        (utc(2026, 1, 15, 11), None),  # noon
    ],
)
def test_a_window_across_midnight_holds_until_its_end(now: datetime, release: datetime | None) -> None:
    assert release_time(NIGHT, now, PARIS) == release


def test_a_daytime_window_holds_within_the_day() -> None:
    lunch = quiet((12, 0), (14, 0))
    assert release_time(lunch, utc(2026, 1, 15, 11, 30), PARIS) == utc(2026, 1, 15, 13)
    assert release_time(lunch, utc(2026, 1, 15, 13, 30), PARIS) is None


def test_the_same_instant_is_quiet_in_one_zone_and_not_in_another() -> None:
    now = utc(2026, 1, 15, 14)  # 15:00 in Paris, 23:00 in Tokyo
    assert release_time(NIGHT, now, PARIS) is None
    assert release_time(NIGHT, now, TOKYO) == utc(2026, 1, 15, 23)  # 08:00 on the 16th in Tokyo


def test_a_window_ending_in_the_skipped_hour_ends_when_the_clock_jumps() -> None:
    # Paris, 2026-03-29: 02:00 -> 03:00 at 01:00 UTC, so 02:30 never happens that night.
    window = quiet((1, 0), (2, 30))
    assert release_time(window, utc(2026, 3, 29, 0, 30), PARIS) == utc(2026, 3, 29, 1)


def test_a_window_ending_in_the_repeated_hour_ends_at_its_first_occurrence() -> None:
    # Paris, 2026-10-25: 03:00 -> 02:00 at 01:00 UTC, so 02:30 happens at 00:30 and 01:30 UTC.
    window = quiet((22, 0), (2, 30))
    assert release_time(window, utc(2026, 10, 24, 23), PARIS) == utc(2026, 10, 25, 0, 30)


def test_quiet_hours_across_dst_keep_the_local_end() -> None:
    # The night the clocks spring forward in New York, 08:00 local is 12:00 UTC, not 13:00.
    assert release_time(NIGHT, utc(2026, 3, 8, 5), NEW_YORK) == utc(2026, 3, 8, 12)


def test_local_start_is_exact_in_a_gap_at_midnight() -> None:
    # America/Santiago, 2026-09-06: 00:00 -> 01:00 at 04:00 UTC; the day starts at the jump.
    assert local_start(date(2026, 9, 6), time(0), ZoneInfo("America/Santiago")) == utc(2026, 9, 6, 4)


def test_an_unknown_zone_falls_back_to_the_campaigns_then_utc() -> None:
    assert zone("Mars/Olympus", "Europe/Paris") == PARIS
    assert zone("", "") == ZoneInfo("UTC")
