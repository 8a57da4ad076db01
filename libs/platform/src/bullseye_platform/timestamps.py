"""protobuf `Timestamp`s to and from aware UTC datetimes, by arithmetic.

protobuf's `Timestamp.FromDatetime` and `ToDatetime` run in Python and cost several times
this (a third to a tenth of a cached read, measured in profile's and recommendation's read
paths). The services' times are UTC with microsecond precision, which is all these handle.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from google.protobuf import timestamp_pb2

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def seconds_and_nanos(value: datetime) -> tuple[int, int]:
    """A Timestamp's two fields for the aware `value`."""
    since = value - EPOCH
    return since.days * 86_400 + since.seconds, since.microseconds * 1000


def to_timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    seconds, nanos = seconds_and_nanos(value)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def to_datetime(stamp: timestamp_pb2.Timestamp) -> datetime:
    """The aware UTC time of `stamp`, to the microsecond."""
    return EPOCH + timedelta(seconds=stamp.seconds, microseconds=stamp.nanos // 1000)
