"""The service's notion of "now": the wall clock, or a pinned time for tests and demos.

Windows, recency, lifecycle and the RFM schedule all read this one clock, so pinning it
(PROFILE_FIXED_NOW) makes every time-dependent answer reproducible.
"""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    def __init__(self, fixed: datetime | None = None) -> None:
        self._fixed = fixed

    @classmethod
    def parse(cls, text: str) -> Clock:
        """A clock pinned to the ISO-8601 `text` (UTC if it has no offset); wall clock if empty.

        Raises:
            ValueError: `text` is not an ISO-8601 time.
        """
        if not text:
            return cls()
        fixed = datetime.fromisoformat(text)
        return cls(fixed if fixed.tzinfo else fixed.replace(tzinfo=UTC))

    def now(self) -> datetime:
        return self._fixed or datetime.now(UTC)
