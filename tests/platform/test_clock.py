"""The service clock: the wall clock, pinned, moved by an offset, from its variables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bullseye_platform.clock import Clock, ClockSettings
from bullseye_platform.config import ConfigError, load

PINNED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_a_pinned_clock_stands_still_until_advanced_and_then_only_by_the_advance() -> None:
    clock = Clock(fixed=PINNED)
    assert clock.now() == clock.now() == PINNED
    clock.advance(timedelta(hours=24))
    assert clock.now() == PINNED + timedelta(hours=24)


def test_an_offset_moves_the_wall_clock() -> None:
    ahead = Clock(offset=timedelta(days=2))
    before = datetime.now(UTC)
    reading = ahead.now()
    assert before + timedelta(days=2) <= reading <= datetime.now(UTC) + timedelta(days=2)


def test_the_variables_pin_and_move_the_clock_and_a_time_without_zone_is_utc() -> None:
    environ = {"X_FIXED_NOW": "2026-06-01T12:00:00", "X_CLOCK_OFFSET": "-1h"}
    assert load(ClockSettings, prefix="X", environ=environ).clock().now() == PINNED - timedelta(hours=1)
    assert load(ClockSettings, prefix="X", environ={}).clock().now().tzinfo is not None


def test_a_malformed_fixed_time_stops_start_up_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match="FIXED_NOW='yesterday'"):
        load(ClockSettings, prefix="X", environ={"X_FIXED_NOW": "yesterday"})
