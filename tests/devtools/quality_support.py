"""Hand-made events for scoring tests, and a naive resolver: linking by every value of some types."""

from __future__ import annotations

from bullseye.events.v1 import event_pb2 as ev
from bullseye_devtools.quality.truth import blocked, identifiers


def naive(events: list[ev.Event], *, kinds: set[str], block: bool) -> dict[str, str]:
    """Links events by every identifier of `kinds`, with no limit (and no blocking unless asked)."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(key: tuple[str, str]) -> tuple[str, str]:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    keys_of = {}
    for e in events:
        keys = [("event", e.event_id)] + [k for k in identifiers(e) if k[0] in kinds and not (block and blocked(k))]
        for key in keys[1:]:
            parent[find(key)] = find(keys[0])
        keys_of[e.event_id] = keys[0]
    return {event_id: str(find(key)) for event_id, key in keys_of.items()}


def event(
    event_id: str, *, anon: str = "", user: str = "", device: str = "", email: str = "", phone: str = ""
) -> ev.Event:
    made = ev.Event(event_id=event_id, identifiers=ev.Identifiers(anonymous_id=anon, user_id=user, device_id=device))
    if email or phone:
        made.identified.personal.email, made.identified.personal.phone = email, phone
    else:
        made.page_viewed.name = "home"
    return made


# Ann (0) and Bob (1) share a tablet; Ann opens an email on her own tablet; Cy (2) is a guest
# on two phones that never meet; a buggy SDK sends the cookie "null" for Ann and Bob.
CASE = [
    (event("a1", anon="tab", user="u-ann"), 0),
    (event("a2", anon="tab"), 0),  # logged out on the shared tablet: only a shared id
    (event("a3", user="u-ann", email="Ann@Example.com "), 0),
    (event("a4", anon="ann-tab", email="ann@example.com"), 0),  # email opened on her tablet
    (event("a5", anon="ann-tab"), 0),
    (event("a6", anon="null"), 0),
    (event("b1", anon="tab", user="u-bob"), 1),
    (event("b2", anon="null", user="u-bob"), 1),
    (event("b3", anon="null"), 1),
    (event("c1", anon="cy-phone-1"), 2),
    (event("c2", anon="cy-phone-1"), 2),
    (event("c3", anon="cy-phone-2"), 2),
    (event("d1", anon="tab", email="dee@example.com"), 3),  # a guest's email on the shared tablet
]
