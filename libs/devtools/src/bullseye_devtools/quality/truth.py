"""Ground truth for identity: which person each event can be attributed to by any rule.

An identifier links only when it is *exclusive*: used by exactly one person and not a blocked
bogus value. An event is scorable when it carries an exclusive identifier; its label is its
true person and its *linkable group*: the events of that person connected through exclusive
identifiers (a guest's two phones that never meet are two groups, since no rule can join
them). Events carrying only shared or blocked identifiers (a shared tablet while logged out,
a cookie "null") are unscorable: counted, never hidden, and left out of the pairs.

So is an event that carries no user id but a device identifier several persons share, even
beside an exclusive one: a guest's email typed on the household tablet while nobody is logged
in. The tablet's identifier is the only link the event has to anyone's past, and no rule can
tell whose hands were on the shared device; it goes wherever the device goes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform.normalize import normalize_email, normalize_phone

from bullseye_devtools.traffic.traps import BOGUS_IDS

Key = tuple[str, str]  # (identifier type, normalized value)
BLOCKED = frozenset(BOGUS_IDS)


@dataclass
class Truth:
    """`person` and `group` of every scorable event; why the others are unscorable."""

    person: dict[str, int] = field(default_factory=dict)
    group: dict[str, int] = field(default_factory=dict)
    unscorable: Counter[str] = field(default_factory=Counter)

    @property
    def scorable(self) -> int:
        return len(self.person)


def region(event: ev.Event) -> str | None:
    """The country ingestion reads a national number in: the traits' country, else the locale's."""
    if event.WhichOneof("payload") == "identified" and event.identified.traits.country:
        return event.identified.traits.country
    parts = event.context.locale.replace("_", "-").split("-")
    return next((p.upper() for p in parts[1:] if len(p) == 2 and p.isalpha()), None)


def _canonical(normalize: Callable[[str], str], value: str) -> str:
    """The form ingestion stores; the raw value where it would refuse it (so still comparable)."""
    try:
        return normalize(value) if value.strip() else ""
    except ValueError:
        return value.strip()


def identifiers(event: ev.Event) -> list[Key]:
    """Every identifier the event carries, contact points (as ingestion normalizes them) included."""
    ids = event.identifiers
    keys = [("user_id", ids.user_id), ("loyalty_id", ids.loyalty_id), ("device_id", ids.device_id),
            ("anonymous_id", ids.anonymous_id), *_contact_points(ids, event)]  # fmt: skip
    kind = event.WhichOneof("payload")
    if kind in ("identified", "signed_up"):
        keys += _contact_points(getattr(event, kind).personal, event)
    return [(name, value) for name, value in keys if value.strip()]


def _contact_points(given: ev.PersonalData | ev.Identifiers, event: ev.Event) -> list[Key]:
    country = region(event)
    phone = _canonical(lambda raw: normalize_phone(raw, region=country), given.phone)
    return [("email", _canonical(normalize_email, given.email)), ("phone", phone)]


def blocked(key: Key) -> bool:
    return key[1].strip().lower() in BLOCKED


class _Groups:
    """Union-find over identifiers."""

    def __init__(self) -> None:
        self.parent: dict[Key, Key] = {}

    def find(self, key: Key) -> Key:
        root = self.parent.setdefault(key, key)
        while root != self.parent[root]:
            root = self.parent[root]
        while key != root:  # path compression
            self.parent[key], key = root, self.parent[key]
        return root

    def join(self, keys: list[Key]) -> None:
        first = self.find(keys[0])
        for key in keys[1:]:
            self.parent[self.find(key)] = first


def owners(events: Iterable[ev.Event], person_of: Mapping[str, int]) -> dict[Key, set[int]]:
    """The persons that used each (not blocked) identifier."""
    found: dict[Key, set[int]] = {}
    for event in events:
        for key in identifiers(event):
            if not blocked(key):
                found.setdefault(key, set()).add(person_of[event.event_id])
    return found


DEVICE_TYPES = ("anonymous_id", "device_id")


def _on_shared_device(keys: list[Key], used_by: Mapping[Key, set[int]]) -> bool:
    return any(key[0] in DEVICE_TYPES and not blocked(key) and len(used_by[key]) > 1 for key in keys)


def label(events: list[ev.Event], person_of: Mapping[str, int]) -> Truth:
    """The ground truth of `events`, whose makers are `person_of[event_id]`."""
    used_by = owners(events, person_of)
    groups, truth = _Groups(), Truth()
    exclusive: dict[str, list[Key]] = {}
    for event in events:
        keys = identifiers(event)
        mine = [key for key in keys if not blocked(key) and len(used_by[key]) == 1]
        if mine and not event.identifiers.user_id and _on_shared_device(keys, used_by):
            truth.unscorable["logged out on a shared device"] += 1
        elif mine:
            exclusive[event.event_id] = mine
            groups.join(mine)
        else:
            truth.unscorable["only blocked ids" if all(map(blocked, keys)) else "only shared ids"] += 1
    numbers: dict[Key, int] = {}
    for event_id, keys in exclusive.items():
        truth.person[event_id] = person_of[event_id]
        truth.group[event_id] = numbers.setdefault(groups.find(keys[0]), len(numbers))
    return truth
