"""How a ranking mixes its parts, per placement (and per experiment variant).

Four parts score every item: the model (*collaborative*: the person's history through the
trained ONNX model), *content* (the item's attributes against the person's affinities),
*popular* (time-decayed popularity) and *session* (what follows the items of the current
session). A blend is a weight per part; each placement (home, product page, cart, email,
...) names its own, `default` serves the others, and an experiment variant may name a blend
that replaces the placement's for the people assigned to it.

Written as `RECOMMENDATION_BLENDS`, blends separated by `;`, parts by `,`:
`default=collaborative:1;product-page=collaborative:0.4,content:0.3,popular:0.15,session:0.15`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

DEFAULT = "default"


class Part(enum.Enum):
    COLLABORATIVE = "collaborative"
    CONTENT = "content"
    POPULAR = "popular"
    SESSION = "session"


@dataclass(frozen=True)
class Blend:
    """Non-negative weights per part; a part left out weighs 0."""

    weights: Mapping[Part, float]

    def __post_init__(self) -> None:
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("blend weights cannot be negative")
        if not any(w > 0 for w in self.weights.values()):
            raise ValueError("a blend needs at least one part with a positive weight")

    def weight(self, part: Part) -> float:
        return self.weights.get(part, 0.0)

    @property
    def mixed(self) -> bool:
        """Whether more than one part counts (then each part is put on one scale first)."""
        return sum(1 for w in self.weights.values() if w > 0) > 1

    def without(self, part: Part) -> Blend | None:
        """This blend with `part` left out (no model published yet: no collaborative part);
        None when nothing would be left."""
        rest = {p: w for p, w in self.weights.items() if p is not part and w > 0}
        return Blend(MappingProxyType(rest)) if rest else None

    @classmethod
    def parse(cls, raw: str) -> Blend:
        """`collaborative:0.4,content:0.3,...`.

        Raises:
            ValueError: an unknown part, a weight that is not a number, or no positive weight.
        """
        weights: dict[Part, float] = {}
        for item in (p.strip() for p in raw.split(",") if p.strip()):
            name, sep, value = item.partition(":")
            try:
                part = Part(name.strip())
            except ValueError:
                raise ValueError(f"{name.strip()!r} is not a part: {', '.join(p.value for p in Part)}") from None
            if not sep:
                raise ValueError(f"{item!r}: expected <part>:<weight>")
            weights[part] = float(value)
        return cls(MappingProxyType(weights))

    def __str__(self) -> str:
        return ",".join(f"{part.value}:{weight:g}" for part, weight in self.weights.items())


@dataclass(frozen=True)
class Blends:
    """Blends by name: placements, `default`, and any a variant names."""

    by_name: Mapping[str, Blend]

    def __post_init__(self) -> None:
        if DEFAULT not in self.by_name:
            raise ValueError(f"the blends need a {DEFAULT!r} one, for placements without their own")

    def choose(self, placement: str, variant: str) -> tuple[str, Blend]:
        """The variant's blend when it names one, else the placement's, else the default one."""
        for name in (variant, placement):
            if name and name in self.by_name:
                return name, self.by_name[name]
        return DEFAULT, self.by_name[DEFAULT]

    @classmethod
    def from_env(cls, raw: str) -> Blends:
        """Raises: ValueError naming the blend that is malformed."""
        found: dict[str, Blend] = {}
        for entry in (e.strip() for e in raw.split(";") if e.strip()):
            name, sep, parts = entry.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"{entry!r}: expected <placement or blend name>=<part>:<weight>,...")
            try:
                found[name.strip()] = Blend.parse(parts)
            except ValueError as exc:
                raise ValueError(f"blend {name.strip()!r}: {exc}") from None
        return cls(MappingProxyType(found))

    def __repr__(self) -> str:
        return ";".join(f"{name}={blend}" for name, blend in self.by_name.items())
