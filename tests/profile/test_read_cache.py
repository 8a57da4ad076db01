"""The read cache's rules (reading/cache.py): what it may keep and serve, and what drops it.

The cache's part with PostgreSQL (notifications, a lost LISTEN) is tested through a profile
process in test_profile_read_cache.py; these are the rules alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bullseye_profile.reading.cache import CachedBase, ReadCache
from bullseye_profile.reading.fold import Standing

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def base(owner: str, label: bytes = b"base", *, valid_until: datetime | None = None) -> CachedBase:
    return CachedBase(
        owner=owner, base=label, fingerprint="v1", computed_at=NOW, valid_until=valid_until, standing=Standing()
    )


def live_cache(capacity: int = 10) -> ReadCache:
    cache = ReadCache(capacity)
    cache.on_live(True)
    return cache


def test_a_kept_base_is_served_until_its_person_changes() -> None:
    cache = live_cache()
    cache.put("p", base("p"), cache.epoch())
    assert cache.get("p") == base("p")

    cache.on_notify('["p", "q"]')

    assert cache.get("p") is None


def test_nothing_is_kept_or_served_while_the_listen_is_down() -> None:
    cache = ReadCache(10)
    cache.put("p", base("p"), cache.epoch())
    assert cache.get("p") is None  # never live yet

    cache.on_live(True)
    cache.put("p", base("p"), cache.epoch())
    cache.on_live(False)  # notifications may be missed from here on
    assert cache.get("p") is None
    cache.on_live(True)
    assert cache.get("p") is None  # what was kept before the gap is gone


def test_a_read_that_overlapped_a_change_of_its_person_is_not_kept() -> None:
    cache = live_cache()
    epoch = cache.epoch()
    cache.on_notify('["p"]')  # committed while the read was in flight: it may have seen either side
    cache.put("p", base("p"), epoch)
    assert cache.get("p") is None

    other = cache.epoch()
    cache.on_notify('["someone-else"]')
    cache.put("p", base("p"), other)  # a change of someone else does not void the read
    assert cache.get("p") == base("p")


def test_a_change_to_everyone_voids_reads_in_flight() -> None:
    cache = live_cache()
    epoch = cache.epoch()
    cache.on_notify("*")
    cache.put("p", base("p"), epoch)
    assert cache.get("p") is None


def test_a_merged_id_is_dropped_with_its_survivor() -> None:
    cache = live_cache()
    cache.put("alias", base("survivor"), cache.epoch())  # asked for by an id merged into another
    cache.on_notify('["survivor"]')
    assert cache.get("alias") is None


def test_the_process_s_own_write_is_read_from_the_database_until_its_commit_is_heard_of() -> None:
    cache = live_cache()
    cache.put("p", base("p"), cache.epoch())
    with cache.changing(["p"]):
        assert cache.get("p") is None
    epoch = cache.epoch()
    cache.put("p", base("p", b"read before the commit"), epoch)  # committed yet? unknown
    assert cache.get("p") is None

    cache.on_notify('["p"]')  # the commit
    cache.put("p", base("p", b"after"), cache.epoch())
    assert cache.get("p") == base("p", b"after")


def test_a_write_that_rolls_back_lifts_its_mark_at_once() -> None:
    cache = live_cache()
    with pytest.raises(RuntimeError), cache.changing(["p"]):
        raise RuntimeError("the batch failed")
    cache.put("p", base("p"), cache.epoch())
    assert cache.get("p") == base("p")


def test_a_change_to_everyone_of_this_process_holds_every_read_until_heard_of() -> None:
    cache = live_cache()
    cache.put("p", base("p"), cache.epoch())
    with cache.changing(None):
        pass
    cache.put("q", base("q"), cache.epoch())
    assert (cache.get("p"), cache.get("q")) == (None, None)

    cache.on_notify("*")
    cache.put("q", base("q"), cache.epoch())
    assert cache.get("q") == base("q")


def test_the_least_recently_used_base_makes_room() -> None:
    cache = live_cache(capacity=2)
    for person in ("a", "b"):
        cache.put(person, base(person), cache.epoch())
    assert cache.get("a") is not None  # "b" is now the least recently used
    cache.put("c", base("c"), cache.epoch())
    assert [cache.get(p) is not None for p in ("a", "b", "c")] == [True, False, True]


def test_a_base_is_usable_only_inside_its_validity_and_for_its_fingerprint() -> None:
    entry = base("p", valid_until=NOW + timedelta(hours=2))
    assert entry.usable(NOW + timedelta(hours=1), "v1")
    assert not entry.usable(NOW + timedelta(hours=2), "v1")  # at the next window edge: fold again
    assert not entry.usable(NOW - timedelta(seconds=1), "v1")  # before it was computed
    assert not entry.usable(NOW, "v2")  # other code or thresholds
