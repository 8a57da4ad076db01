"""Partitioned subjects: a key's partition is stable and in range, and keys spread evenly."""

from __future__ import annotations

from collections import Counter

import pytest
from bullseye_platform.eventlog import ALL_PARTITIONS, partition_filter, partition_of, subject_for


@pytest.mark.parametrize(
    ("key", "partitions", "expected"),
    [("person-1", 16, 13), ("user-42", 16, 6), ("anon:abc", 16, 0), ("order-9001", 7, 2)],
)
def test_a_key_lands_in_the_same_partition_in_every_process_and_release(
    key: str, partitions: int, expected: int
) -> None:
    # Pinned values: positions are stored per partition, so a changed hash would silently
    # send a person's events to another worker (Python's salted hash() would do exactly that).
    assert partition_of(key, partitions) == expected
    assert partition_of(key, partitions) == partition_of(key, partitions)


@pytest.mark.parametrize("partitions", [1, 2, 7, 16, 64])
def test_partitions_are_within_range(partitions: int) -> None:
    assert {partition_of(f"key-{i}", partitions) for i in range(2000)} <= set(range(partitions))


def test_keys_spread_roughly_evenly_over_partitions() -> None:
    partitions, keys = 8, 16000
    counts = Counter(partition_of(f"person-{i}", partitions) for i in range(keys))

    expected = keys / partitions
    assert len(counts) == partitions
    assert all(abs(count - expected) < 0.1 * expected for count in counts.values()), counts


@pytest.mark.parametrize("partition", [0, 3, 15, 127])
@pytest.mark.parametrize("kind", ["page_viewed", "order.completed"])
def test_a_built_subject_carries_prefix_partition_and_type(partition: int, kind: str) -> None:
    subject = subject_for("events", partition, kind)

    assert subject == f"events.{partition}.{kind}"


def _matches(filter_subject: str, subject: str) -> bool:
    """NATS token matching for filters whose only wildcard is a trailing '>'."""
    head = filter_subject.removesuffix(".>").split(".")
    tokens = subject.split(".")
    return len(tokens) > len(head) and tokens[: len(head)] == head


def test_a_partition_filter_matches_only_that_partitions_subjects() -> None:
    only_five = partition_filter("events", 5)

    assert _matches(only_five, subject_for("events", 5, "page_viewed"))
    assert not _matches(only_five, subject_for("events", 50, "page_viewed"))
    assert not _matches(only_five, subject_for("events", 4, "page_viewed"))


def test_the_all_partitions_filter_matches_every_partition_of_its_stream_only() -> None:
    everything = partition_filter("events", ALL_PARTITIONS)

    assert all(_matches(everything, subject_for("events", p, "page_viewed")) for p in (0, 5, 50))
    assert not _matches(everything, subject_for("resolved", 5, "page_viewed"))
