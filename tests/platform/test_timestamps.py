"""bullseye_platform.timestamps gives what protobuf's own conversions give, for the UTC
microsecond times the services store (before 1970 too)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bullseye_platform.timestamps import seconds_and_nanos, to_datetime, to_timestamp
from google.protobuf import timestamp_pb2

TIMES = [
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(1969, 7, 20, 20, 17, 40, 123456, tzinfo=UTC),
    datetime(2026, 12, 6, 17, 46, 42, 999999, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
]


@pytest.mark.parametrize("moment", TIMES, ids=str)
def test_conversions_equal_protobufs_own(moment: datetime) -> None:
    expected = timestamp_pb2.Timestamp()
    expected.FromDatetime(moment)

    assert to_timestamp(moment) == expected
    assert seconds_and_nanos(moment) == (expected.seconds, expected.nanos)
    assert to_datetime(expected) == expected.ToDatetime(tzinfo=UTC) == moment
