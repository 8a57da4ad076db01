"""One generic walk over a request message: every string, timestamp and duration checked
against `rules`, every problem a field violation with its path (`context.page.url`,
`items[2].category`, `traits.custom["size"]`).

The server's call envelope walks each whole request (skipping what the service checks item
by item); ingestion walks each event itself, so a bad one is rejected alone. Most messages
are clean, so two screens decide first whether there is anything to report: the message's
serialized bytes for NUL (free text is checked for nothing else), and a compiled check of
everything else (`detect.py`). Only a message either doubts is walked: the walk reads the
fields a plan per message type names, and says what is wrong and where.

The bytes are a sound screen for NUL: a string is its UTF-8 bytes on the wire, so a NUL in
any string, at any depth, is a 0x00 byte in the message's serialization. The converse does
not hold (a zero varint sent explicitly, a fixed-width number, a byte field, an empty
sub-message's length also put 0x00 there), so a 0x00 byte only sends the message to the
walk, which finds where the NUL is, if anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeAlias, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.rpc.error_details_pb2 import BadRequest

from bullseye_platform.inputs import rules
from bullseye_platform.inputs.detect import detector

Violation: TypeAlias = BadRequest.FieldViolation
Found: TypeAlias = list[Violation]
_STRING, _MESSAGE = FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_MESSAGE
_MAX_KEY_IN_PATH = 64


def violations(message: Message, *, skip_items: bool = False, serialized: bytes | None = None) -> Found:
    """Every problem of `message`, by path; `skip_items` leaves out the fields the service
    checks item by item (option `checked_per_item`). `serialized` is the message's wire
    form when the caller has it (the request's bytes, an event's), else it is serialized here."""
    screen = _SCREENS.get(type(message)) or _screen_of(message)
    if serialized is None:
        serialized = message.SerializeToString()
    if b"\x00" not in serialized and not (skip_items and screen.per_item) and screen.clean(message):
        return []
    found: Found = []
    screen.plan.walk(message, "", found, skip_items)
    return found


@dataclass(frozen=True, slots=True)
class _Screen:
    """What `violations` needs of a message type, found with one look-up by its class (it
    runs for every event: a look-up by descriptor and two calls cost ~0.7 us more)."""

    plan: _Plan
    clean: Callable[[Any], bool]
    per_item: bool


_SCREENS: dict[type[Message], _Screen] = {}


def _screen_of(message: Message) -> _Screen:
    descriptor = cast(Descriptor, message.DESCRIPTOR)
    plan = _plan(descriptor)
    screen = _SCREENS[type(message)] = _Screen(plan, detector(descriptor), bool(plan.per_item))
    return screen


def _key_path(key: object) -> str:
    text = repr(key)
    return text if len(text) <= _MAX_KEY_IN_PATH else text[: _MAX_KEY_IN_PATH - 4] + "...'"


# Map keys take the default rule; a distinct object, so a violation can say it was the key.
_KEY = rules.TextRule(rules.DEFAULT_MAX_LENGTH, multiline=False)


@dataclass
class _Map:
    name: str
    key_rule: rules.TextRule | None  # None: not a string key
    value_rule: rules.TextRule | None  # a string value
    value_type: Descriptor | None  # a message value

    def children(self, items: Any, path: str) -> Iterator[tuple[str, Descriptor, Any]]:
        if self.value_type is not None:
            for key, value in items.items():
                yield f"{path}{self.name}[{_key_path(key)}].", self.value_type, value


@dataclass
class _Plan:
    """The fields of one message type that can hold something to check."""

    texts: list[tuple[str, rules.TextRule]] = field(default_factory=list)
    text_lists: list[tuple[str, rules.TextRule]] = field(default_factory=list)
    subs: list[tuple[str, Descriptor]] = field(default_factory=list)
    oneofs: list[tuple[str, dict[str, Descriptor]]] = field(default_factory=list)
    lists: list[tuple[str, Descriptor]] = field(default_factory=list)
    maps: list[_Map] = field(default_factory=list)
    per_item: frozenset[str] = frozenset()
    special: Callable[[Any], str | None] | None = None

    def walk(self, message: Any, path: str, found: Found, skip_items: bool) -> None:
        if self.special is not None:
            if (problem := self.special(message)) is not None:
                found.append(Violation(field=path.rstrip("."), description=problem))
            return
        for at, rule, value in self._texts(message, path):
            if (problem := rule.problem(value)) is not None:
                found.append(Violation(field=at, description=f"{'key ' if rule is _KEY else ''}{problem}"))
        skipped = self.per_item if skip_items else frozenset()
        for at, descriptor, child in self._children(message, path, skipped):
            _plan(descriptor).walk(child, at, found, skip_items)

    def _texts(self, message: Any, path: str) -> Iterator[tuple[str, rules.TextRule, str]]:
        """(path, rule, value) of every string the message holds at this level."""
        for name, rule in self.texts:
            yield path + name, rule, getattr(message, name)
        for name, rule in self.text_lists:
            for index, value in enumerate(getattr(message, name)):
                yield f"{path}{name}[{index}]", rule, value
        for entry in self.maps:
            for key, value in getattr(message, entry.name).items():
                at = f"{path}{entry.name}[{_key_path(key)}]"
                if entry.key_rule is not None:
                    yield at, _KEY, key
                if entry.value_rule is not None:
                    yield at, entry.value_rule, value

    def _children(self, message: Any, path: str, skipped: frozenset[str]) -> Iterator[tuple[str, Descriptor, Any]]:
        """(path prefix, type, message) of every message the message holds at this level."""
        for name, descriptor in self.subs:
            if name not in skipped and message.HasField(name):
                yield f"{path}{name}.", descriptor, getattr(message, name)
        for oneof, members in self.oneofs:
            chosen = message.WhichOneof(oneof)
            if chosen in members and chosen not in skipped:
                yield f"{path}{chosen}.", members[chosen], getattr(message, chosen)
        for name, descriptor in self.lists:
            if name not in skipped:
                for index, item in enumerate(getattr(message, name)):
                    yield f"{path}{name}[{index}].", descriptor, item
        for entry in self.maps:
            if entry.name not in skipped:
                yield from entry.children(getattr(message, entry.name), path)


def _timestamp(message: Any) -> str | None:
    return rules.timestamp_problem(message.seconds, message.nanos)


def _duration(message: Any) -> str | None:
    return rules.duration_problem(message.seconds, message.nanos)


_SPECIAL = {rules.TIMESTAMP: _timestamp, rules.DURATION: _duration}


@cache
def _plan(descriptor: Descriptor) -> _Plan:
    """The plan of a message type; sub-messages are planned when first reached, so recursive
    types (a Rule holds Rules) need no special case."""
    plan = _Plan(special=_SPECIAL.get(descriptor.full_name))
    if plan.special is not None:
        return plan
    oneofs: dict[str, dict[str, Descriptor]] = {}
    for fd in descriptor.fields:
        if rules.checked_per_item(fd):
            plan.per_item |= {fd.name}
        if not rules.left_to_service(fd):
            _add(plan, fd, oneofs)
    plan.oneofs = list(oneofs.items())
    return plan


def _add(plan: _Plan, fd: FieldDescriptor, oneofs: dict[str, dict[str, Descriptor]]) -> None:
    if fd.type == _STRING:
        (plan.text_lists if fd.is_repeated else plan.texts).append((fd.name, rules.text_rule(fd)))
        return
    child = fd.message_type
    if child is None:  # a scalar, an enum or bytes: nothing to check
        return
    if child.GetOptions().map_entry:
        plan.maps.append(_map_of(fd, child))
    elif fd.is_repeated:
        plan.lists.append((fd.name, child))
    elif fd.containing_oneof is not None:
        oneofs.setdefault(fd.containing_oneof.name, {})[fd.name] = child
    else:
        plan.subs.append((fd.name, child))


def _map_of(fd: FieldDescriptor, entry: Descriptor) -> _Map:
    key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
    return _Map(
        name=fd.name,
        key_rule=_KEY if key.type == _STRING else None,
        value_rule=rules.text_rule(fd) if value.type == _STRING else None,
        value_type=value.message_type if value.type == _MESSAGE else None,
    )
