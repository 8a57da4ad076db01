"""The consent fold: what a person allows, per purpose and channel, from their ConsentChanged events.

Every service that needs consent (profile shows it, campaign checks it at the last moment,
recommendation respects personalization) folds the same statements the same way, here. The
fold is a last-writer-wins register per (purpose, channel): a statement takes a pair unless the
pair already holds a later one, by (occurred_at, event_id). So the result does not depend on
the order statements arrive in (a backfilled old statement never overrides a newer one), and a
replay gives the same state.

A statement for CONTACT_CHANNEL_ALL (or an unspecified channel) speaks for every channel;
one for an unspecified purpose says nothing. No statement means not granted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from bullseye.events.v1 import event_pb2 as ev

PURPOSES: Mapping[int, str] = MappingProxyType({
    ev.CONSENT_PURPOSE_ANALYTICS: "analytics",
    ev.CONSENT_PURPOSE_PERSONALIZATION: "personalization",
    ev.CONSENT_PURPOSE_MARKETING: "marketing",
})  # fmt: skip
CHANNELS: Mapping[int, str] = MappingProxyType({
    ev.CONTACT_CHANNEL_EMAIL: "email",
    ev.CONTACT_CHANNEL_SMS: "sms",
    ev.CONTACT_CHANNEL_PUSH: "push",
    ev.CONTACT_CHANNEL_IN_APP: "in_app",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Statement:
    """One ConsentChanged event: its payload, when it happened and its id (the tie-break)."""

    purpose: int  # bullseye.events.v1.ConsentPurpose
    channel: int  # bullseye.events.v1.ContactChannel
    granted: bool
    source: str
    occurred_at: datetime
    event_id: str

    def pairs(self) -> list[tuple[str, str]]:
        """The (purpose, channel) names this statement speaks for."""
        purpose = PURPOSES.get(self.purpose)
        if purpose is None:
            return []
        named = CHANNELS.get(self.channel)
        return [(purpose, channel) for channel in ((named,) if named else CHANNELS.values())]


@dataclass(frozen=True, slots=True)
class Choice:
    """What the statement in force for one (purpose, channel) says. (Not an auth grant: those
    are a principal's scopes, bullseye_platform.auth.grants.)"""

    granted: bool
    source: str
    occurred_at: datetime
    event_id: str

    def newer_than(self, other: Choice) -> bool:
        return (self.occurred_at, self.event_id) > (other.occurred_at, other.event_id)


@dataclass(frozen=True)
class ConsentState:
    """A person's consent: the choice in force per (purpose, channel) that any statement named."""

    choices: Mapping[tuple[str, str], Choice] = field(default_factory=lambda: MappingProxyType({}))

    def with_statement(self, statement: Statement) -> ConsentState:
        """This state with `statement` folded in (a new state; this one is unchanged)."""
        choice = Choice(statement.granted, statement.source, statement.occurred_at, statement.event_id)
        choices = dict(self.choices)
        for pair in statement.pairs():
            held = choices.get(pair)
            if held is None or choice.newer_than(held):
                choices[pair] = choice
        return ConsentState(MappingProxyType(choices))

    def choice(self, purpose: str, channel: str) -> Choice | None:
        return self.choices.get((purpose, channel))

    def allows(self, purpose: str, channel: str) -> bool:
        """Whether the last word on this purpose and channel was yes (nothing said: no)."""
        held = self.choices.get((purpose, channel))
        return held is not None and held.granted

    def __iter__(self) -> Iterator[tuple[tuple[str, str], Choice]]:
        return iter(sorted(self.choices.items()))


def fold(statements: Iterable[Statement], state: ConsentState | None = None) -> ConsentState:
    """`state` (default: nothing said) with every statement folded in, in any order."""
    folded = state or ConsentState()
    for statement in statements:
        folded = folded.with_statement(statement)
    return folded
