"""Identity resolution settings: type priority, per-person limits, values never used to link.

The shape of Segment's identity resolution settings: a priority order of identifier types,
a limit of identifiers of each type per person (one user id; a few emails; bounded devices),
and blocked values that buggy SDKs send for everyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bullseye_platform.config import ConfigError

USER_ID, EMAIL, PHONE, DEVICE_ID, ANONYMOUS_ID = "user_id", "email", "phone", "device_id", "anonymous_id"
# A loyalty (membership) card: what a till knows of a member who has no account login there.
LOYALTY_ID = "loyalty_id"
TYPES = (USER_ID, LOYALTY_ID, EMAIL, PHONE, DEVICE_ID, ANONYMOUS_ID)
# Matched by keyed hash: the stored value is the HMAC hex, never the address.
HASHED_TYPES = (EMAIL, PHONE)

# Values SDKs send when they have no id: they would glue every such shopper into one person.
DEFAULT_BLOCKED = frozenset(
    {"", "0", "-1", "null", "none", "nil", "undefined", "anonymous", "unknown", "guest", "test", "nan"}
)

# An identifier: (type, value); the value of an email or phone is its keyed hash.
Key = tuple[str, str]


def is_bogus(value: str, extra: frozenset[str] = frozenset()) -> bool:
    """A placeholder, not an id: a default or configured blocked value, or one character
    repeated ("0000", "xxxx", the all-zero UUID once its dashes are dropped)."""
    text = value.strip().lower()
    if text in DEFAULT_BLOCKED or text in extra:
        return True
    compact = text.replace("-", "")
    return len(compact) >= 2 and len(set(compact)) == 1


@dataclass(frozen=True)
class Policy:
    """`priority`: types, highest first. `limits`: most identifiers of a type per person."""

    priority: tuple[str, ...]
    limits: Mapping[str, int]
    blocked: frozenset[str] = frozenset()
    max_persons_per_value: int = 5

    def rank(self, id_type: str) -> int:
        """0 for the highest-priority type."""
        return self.priority.index(id_type)

    def ordered(self, keys: Iterable[Key]) -> list[Key]:
        return sorted(keys, key=lambda k: self.rank(k[0]))

    def limit_rule(self, id_type: str) -> str:
        """How a refused link names the limit that refused it, e.g. "limit:user_id=1"."""
        return f"limit:{id_type}={self.limits[id_type]}"

    def broken_limit(self, counts: Mapping[str, int]) -> str | None:
        """The rule of the highest-priority type whose count is over its limit, if any."""
        for id_type in self.priority:
            if counts.get(id_type, 0) > self.limits[id_type]:
                return self.limit_rule(id_type)
        return None

    @classmethod
    def parse(
        cls, *, priority: Iterable[str], limits: Iterable[str], blocked: Iterable[str], max_persons_per_value: int
    ) -> Policy:
        """From the config's text forms ("user_id,email,..." and "user_id=1,email=5,...").

        Raises:
            ConfigError: naming the variable and what is wrong with it.
        """
        order = tuple(p.strip() for p in priority)
        if sorted(order) != sorted(TYPES):
            raise ConfigError(f"IDENTITY_PRIORITY must list each of {', '.join(TYPES)} once, got {','.join(order)}")
        parsed = _parse_limits(limits)
        if max_persons_per_value < 2:
            raise ConfigError("IDENTITY_MAX_PERSONS_PER_VALUE must be at least 2 (a value shared by two persons)")
        extra = frozenset(b.strip().lower() for b in blocked)
        return cls(priority=order, limits=parsed, blocked=extra, max_persons_per_value=max_persons_per_value)


def _parse_limits(items: Iterable[str]) -> dict[str, int]:
    limits: dict[str, int] = {}
    for item in items:
        name, _, number = item.partition("=")
        name = name.strip()
        if name not in TYPES or not number.strip().isdigit() or int(number) < 1:
            raise ConfigError(f"IDENTITY_LIMITS: {item!r} is not <type>=<n> with a type of {TYPES} and n >= 1")
        limits[name] = int(number)
    missing = [t for t in TYPES if t not in limits]
    if missing:
        raise ConfigError(f"IDENTITY_LIMITS must give a limit for every type; missing {', '.join(missing)}")
    return limits
