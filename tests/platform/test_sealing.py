"""Sealing an event's personal data: the rules ingestion and identity share."""

from __future__ import annotations

import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform.crypto import DataKey, SealError, new_secret
from bullseye_platform.sealing import DataKeyCache, open_personal, personal_of, seal_personal, sealed_of, subject_of

PERSONAL = ev.PersonalData(email="jane@example.com", phone="+33612345678", first_name="Jane", last_name="Doe")


def identified(event_id: str = "e-1", **ids: str) -> ev.Event:
    return ev.Event(
        event_id=event_id,
        identifiers=ev.Identifiers(**(ids or {"anonymous_id": "a-1"})),
        identified=ev.Identified(traits=ev.Traits(country="FR"), personal=PERSONAL),
    )


def test_subject_is_the_user_id_when_known_else_the_anonymous_id() -> None:
    assert subject_of(ev.Identifiers(anonymous_id="a-1", user_id="u-1")) == "user:u-1"
    assert subject_of(ev.Identifiers(anonymous_id="a-1")) == "anon:a-1"


@pytest.mark.parametrize("kind", ["identified", "signed_up"])
def test_sealing_moves_personal_data_into_sealed_personal(kind: str) -> None:
    event = identified()
    if kind == "signed_up":
        event.signed_up.CopyFrom(ev.SignedUp(method="email", personal=PERSONAL))
    key = DataKey("dk_1", new_secret())
    seal_personal(event, key)

    assert personal_of(event) is None
    sealed = sealed_of(event)
    assert sealed is not None and sealed.key_id == "dk_1"
    assert b"jane" not in event.SerializeToString() and b"+336" not in event.SerializeToString()
    assert open_personal(sealed, key, "e-1") == PERSONAL


def test_traits_stay_in_the_clear() -> None:
    event = identified()
    seal_personal(event, DataKey("dk_1", new_secret()))

    assert event.identified.traits.country == "FR"


def test_sealed_data_moved_to_another_event_does_not_open() -> None:
    event, key = identified("e-1"), DataKey("dk_1", new_secret())
    seal_personal(event, key)
    sealed = sealed_of(event)
    assert sealed is not None

    with pytest.raises(SealError):
        open_personal(sealed, key, "e-2")


def test_events_without_personal_data_are_left_alone() -> None:
    event = ev.Event(event_id="e-1", page_viewed=ev.PageViewed(name="home"))
    before = event.SerializeToString()
    seal_personal(event, DataKey("dk_1", new_secret()))

    assert event.SerializeToString() == before and personal_of(event) is None and sealed_of(event) is None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_key_cache_forgets_keys_older_than_its_ttl() -> None:
    clock = Clock()
    cache = DataKeyCache(ttl=10, max_size=10, clock=clock)
    key = DataKey("dk_1", new_secret())
    cache.put("user:u-1", key)
    clock.now = 9.9
    assert cache.get("user:u-1") == key
    clock.now = 10.0
    assert cache.get("user:u-1") is None


def test_key_cache_evicts_the_least_recently_used_beyond_its_size() -> None:
    cache = DataKeyCache(ttl=60, max_size=2, clock=Clock())
    keys = [DataKey(f"dk_{i}", new_secret()) for i in range(3)]
    cache.put("a", keys[0])
    cache.put("b", keys[1])
    cache.get("a")
    cache.put("c", keys[2])

    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (keys[0], None, keys[2])
    assert len(cache) == 2
