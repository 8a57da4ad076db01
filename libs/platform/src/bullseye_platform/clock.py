"""A service's notion of "now": the wall clock, a pinned instant, either moved by an offset.

Windows, recency, due times of scheduled jobs and everything a service decides by the time
read one `Clock`, so a test (or a demo) pins it (`<PREFIX>_FIXED_NOW`) or moves it
(`<PREFIX>_CLOCK_OFFSET` at start, `advance()` in the process) and every time-dependent answer
follows: "24 h after the purchase" is checked by advancing the clock a day, not by waiting one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bullseye_platform.config import ConfigError, Duration, env


class Clock:
    """`now()` = (the pinned instant, else the wall clock) + the offset."""

    def __init__(self, *, fixed: datetime | None = None, offset: timedelta = timedelta(0)) -> None:
        self._fixed, self._offset = fixed, offset

    @classmethod
    def parse(cls, fixed: str, *, offset: float = 0.0) -> Clock:
        """A clock pinned to the ISO-8601 `fixed` (UTC if it names no offset), or the wall
        clock when `fixed` is empty; moved by `offset` seconds either way.

        Raises:
            ValueError: `fixed` is not an ISO-8601 time.
        """
        pinned = datetime.fromisoformat(fixed) if fixed else None
        if pinned is not None and pinned.tzinfo is None:
            pinned = pinned.replace(tzinfo=UTC)
        return cls(fixed=pinned, offset=timedelta(seconds=offset))

    def now(self) -> datetime:
        return (self._fixed or datetime.now(UTC)) + self._offset

    def advance(self, by: timedelta) -> None:
        """Move this clock (and only it: nothing else in the process sees a change) by `by`."""
        self._offset += by


@dataclass(frozen=True, kw_only=True)
class ClockSettings:
    """The two variables of a service's clock; a service config inherits them with its prefix."""

    fixed_now: str = env(
        "FIXED_NOW", default="", help="ISO-8601 time the clock is pinned to (tests, demos); empty = wall clock"
    )
    clock_offset: Duration = env(
        "CLOCK_OFFSET", default=Duration(0), help="added to every reading of the clock, e.g. '1d' (tests); may be < 0"
    )

    def __post_init__(self) -> None:
        # A malformed time stops start-up like any malformed variable, naming it.
        try:
            self.clock()
        except ValueError:
            example = "e.g. 2026-06-01T12:00:00Z"
            variable = f"{getattr(self, 'prefix', '<PREFIX>')}_FIXED_NOW"  # a ServiceConfig's prefix
            raise ConfigError(f"{variable}={self.fixed_now!r} is not an ISO-8601 time, {example}") from None

    def clock(self) -> Clock:
        return Clock.parse(self.fixed_now, offset=self.clock_offset)
