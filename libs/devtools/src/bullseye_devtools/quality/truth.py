"""Ground truth for identity: which events a correct system links, and which no rule can attribute.

An identifier links only when it is *exclusive*: used by exactly one person, not a placeholder
(the bogus ids of buggy SDKs, the realistic journeys' `noemail@…`, `[object Object]`, …), and
readable: an email or phone ingestion cannot normalize (a national number with no country) is
no identifier, since nothing could compare it; a lenient ingestion drops it and keeps the
event. A value several persons use links nobody: a kiosk's ids, a family app's device id, a
shared mailbox, a role address (its successor is a different person). An event is scorable
when it carries an exclusive identifier; its label is its true person and its *linkable
group*: the events of that person connected through exclusive identifiers (a guest's two
phones that never meet are two groups, since no rule can join them). Events carrying only
shared or placeholder identifiers are unscorable: counted, never hidden, and left out of the
pairs (a kiosk's cash payment; a child browsing the family app before a parent logs in on the
same anonymous id). Session ids are not identifiers, so the rest of a guest's kiosk visit
beside their e-receipt email is unscorable too. Arrival order plays no part: a CRM record sent
last links what it would link sent first. An event ingestion rejects today (a national
number beside a good email) stays scorable; the scoring counts it unresolved, alone, which is
what the rejection costs.

`logged_out_follows_device` keeps the rule the project's first journeys were scored by (their
figures stay comparable): an event with no user id on a device several persons share is
unscorable even beside an exclusive identifier, as a guest's email typed logged out on the
household tablet, which goes wherever the tablet goes. The realistic journeys turn it off:
there the exclusive identifier says who made the event (the fresh anonymous id a family app
issues at each logout, the e-receipt email typed at a kiosk) and a correct system follows it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform.normalize import normalize_email, normalize_phone

from bullseye_devtools.traffic.realistic.placeholders import PLACEHOLDERS
from bullseye_devtools.traffic.traps import BOGUS_IDS

Key = tuple[str, str]  # (identifier type, normalized value)
BLOCKED = frozenset(BOGUS_IDS) | {placeholder.canonical for placeholder in PLACEHOLDERS}


@dataclass
class Truth:
    """`person` and `group` of every scorable event; why each other event is unscorable."""

    person: dict[str, int] = field(default_factory=dict)
    group: dict[str, int] = field(default_factory=dict)
    why: dict[str, str] = field(default_factory=dict)  # unscorable event -> the reason

    @property
    def scorable(self) -> int:
        return len(self.person)

    @property
    def unscorable(self) -> Counter[str]:
        """Unscorable events by reason."""
        return Counter(self.why.values())


def region(event: ev.Event) -> str | None:
    """The country ingestion reads a national number in: the traits' country, else the locale's."""
    if event.WhichOneof("payload") == "identified" and event.identified.traits.country:
        return event.identified.traits.country
    parts = event.context.locale.replace("_", "-").split("-")
    return next((p.upper() for p in parts[1:] if len(p) == 2 and p.isalpha()), None)


def _canonical(normalize: Callable[[str], str], value: str) -> str:
    """The form ingestion stores; empty (no identifier) where it cannot read the value."""
    try:
        return normalize(value) if value.strip() else ""
    except ValueError:
        return ""


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


def label(events: list[ev.Event], person_of: Mapping[str, int], *, logged_out_follows_device: bool = False) -> Truth:
    """The ground truth of `events`, whose makers are `person_of[event_id]` (see the module
    docstring for `logged_out_follows_device`)."""
    used_by = owners(events, person_of)
    groups, truth = _Groups(), Truth()
    exclusive: dict[str, list[Key]] = {}
    for event in events:
        keys = identifiers(event)
        mine = [key for key in keys if not blocked(key) and len(used_by[key]) == 1]
        follows = logged_out_follows_device and not event.identifiers.user_id
        if mine and follows and _on_shared_device(keys, used_by):
            truth.why[event.event_id] = "logged out on a shared device"
        elif mine:
            exclusive[event.event_id] = mine
            groups.join(mine)
        else:
            truth.why[event.event_id] = "only blocked ids" if all(map(blocked, keys)) else "only shared ids"
    numbers: dict[Key, int] = {}
    for event_id, keys in exclusive.items():
        truth.person[event_id] = person_of[event_id]
        truth.group[event_id] = numbers.setdefault(groups.find(keys[0]), len(numbers))
    return truth
