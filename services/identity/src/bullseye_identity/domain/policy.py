"""Identity resolution settings: type priority, per-person limits, values never used to link.

The shape of Segment's identity resolution settings: a priority order of identifier types,
a limit of identifiers of each type per person (one user id; a few emails; bounded devices),
and placeholders that forms and buggy SDKs send for everyone (domain/placeholders.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bullseye_platform.config import ConfigError

from bullseye_identity.domain.kinds import (
    ANONYMOUS_ID,
    DEVICE_ID,
    EMAIL,
    HASHED_TYPES,
    LOYALTY_ID,
    PHONE,
    TYPES,
    USER_ID,
    Key,
)
from bullseye_identity.domain.placeholders import Placeholders

DEFAULT_PLACEHOLDERS = Placeholders()
# Re-exported: the rules' modules name types through the policy.
__all__ = [
    "ANONYMOUS_ID", "DEVICE_ID", "EMAIL", "HASHED_TYPES", "LOYALTY_ID", "PHONE", "TYPES", "USER_ID", "Key", "Policy",
]  # fmt: skip


@dataclass(frozen=True)
class Policy:
    """`priority`: types, highest first. `limits`: most identifiers of a type per person.
    `weak_single`: types a weak event (one without a user id) never brings together, so a
    second email or phone joins a person only through a login (see domain/decide.py)."""

    priority: tuple[str, ...]
    limits: Mapping[str, int]
    placeholders: Placeholders = DEFAULT_PLACEHOLDERS
    max_persons_per_value: int = 5
    weak_single: frozenset[str] = frozenset({EMAIL, PHONE})

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

    def usable(self, id_type: str, value: str) -> bool:
        """Whether an identifier links at all: present and not a placeholder."""
        return bool(value) and not self.placeholders.holds(id_type, value)

    @classmethod
    def parse(
        cls, *, priority: Iterable[str], limits: Iterable[str], blocked: Iterable[str], max_persons_per_value: int,
        weak_single: Iterable[str] = (EMAIL, PHONE),
    ) -> Policy:  # fmt: skip
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
        single = frozenset(t.strip() for t in weak_single)
        if not single <= set(TYPES):
            given = ",".join(sorted(single))
            raise ConfigError(f"IDENTITY_WEAK_SINGLE_TYPES must list types of {', '.join(TYPES)}, got {given}")
        return cls(
            priority=order, limits=parsed, placeholders=Placeholders.with_extra(blocked),
            max_persons_per_value=max_persons_per_value, weak_single=single,
        )  # fmt: skip


def _parse_limits(items: Iterable[str]) -> dict[str, int]:
    limits: dict[str, int] = {}
    for item in items:
        name, _, number = item.partition("=")
        name = name.strip()
        if name not in TYPES or not (number.strip().isascii() and number.strip().isdigit()) or int(number) < 1:
            raise ConfigError(f"IDENTITY_LIMITS: {item!r} is not <type>=<n> with a type of {TYPES} and n >= 1")
        limits[name] = int(number)
    missing = [t for t in TYPES if t not in limits]
    if missing:
        raise ConfigError(f"IDENTITY_LIMITS must give a limit for every type; missing {', '.join(missing)}")
    return limits
