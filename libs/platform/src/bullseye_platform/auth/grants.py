"""What each service or operator principal may call (`BULLSEYE_GRANTS`), defaults in code.

A token proves only who signs it; what that principal may do is decided by the server that
receives it, from these grants. Event sources (ingestion's API keys) carry their own scopes
in ingestion's table and are not listed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bullseye_platform.auth.keys import NAME
from bullseye_platform.auth.principal import EVERYTHING

# Who needs what of whom (issue 13; docs/design.md D1, D4): ingestion asks identity for data
# keys, identity appends its corrections through ingestion, profile resolves identifiers,
# recommendation and campaign read what they target; an operator may call everything.
DEFAULTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "ingestion": frozenset({"datakeys:issue"}),
        "identity": frozenset({"events:correct"}),
        "profile": frozenset({"identities:read"}),
        "recommendation": frozenset({"identities:read", "profiles:read"}),
        "campaign": frozenset(
            {
                "identities:read",
                "contacts:read",
                "profiles:read",
                "segments:read",
                "segments:manage",
                "recommendations:read",
            }
        ),
        "operator": frozenset({EVERYTHING}),
    }
)


class Grants:
    """Scopes by principal name. `BULLSEYE_GRANTS` replaces the defaults of each principal it
    names and keeps the others': `profile=identities:read,profiles:read;alice=*;campaign=`
    (the last one takes every scope away from campaign)."""

    def __init__(self, by_name: Mapping[str, frozenset[str]] = DEFAULTS) -> None:
        self.by_name = by_name

    @classmethod
    def from_env(cls, raw: str) -> Grants:
        """Raises ValueError naming the malformed entry by its position."""
        granted = dict(DEFAULTS)
        for index, entry in enumerate(part.strip() for part in raw.split(";") if part.strip()):
            name, sep, scopes = entry.partition("=")
            name = name.strip()
            if not sep or not NAME.match(name):
                raise ValueError(f"entry {index + 1} must be <principal name>=<scope>,<scope>,...")
            granted[name] = frozenset(s.strip() for s in scopes.split(",") if s.strip())
        return cls(MappingProxyType(granted))

    def of(self, name: str) -> frozenset[str]:
        """The scopes of `name` (none for a principal nobody granted anything)."""
        return self.by_name.get(name, frozenset())

    def __repr__(self) -> str:
        """As `config` lists it: the defaults by name, else the grants in BULLSEYE_GRANTS's form."""
        if self.by_name is DEFAULTS:
            return "defaults (bullseye_platform.auth.grants)"
        return ";".join(f"{name}={','.join(sorted(scopes))}" for name, scopes in sorted(self.by_name.items()))
