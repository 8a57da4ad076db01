"""Event filters: which events trigger, cancel, exit or convert, checked and matched.

A filter names a payload type of bullseye.events.v1.Event and conditions on that payload's
fields. Paths are resolved against the proto descriptors, so a filter that names a field
the event does not have is refused when the campaign is defined, not silently never
matched at run time. Money compares by its amount in major units, like profile's rules.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable
from typing import Any

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.events.v1 import event_pb2
from bullseye.profile.v1 import segments_pb2 as spb
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from bullseye_campaign.domain.violations import Violations

Op = spb.Operator
MAX_CONDITIONS = 10
_MONEY = "google.type.Money"


class Kind(enum.Enum):
    """What a comparable payload field holds."""

    STRING = "string"
    INT = "integer"
    DOUBLE = "number"
    BOOL = "boolean"
    ENUM = "enum"
    MONEY = "money"


_EQUALITY_ONLY = frozenset({Kind.STRING, Kind.BOOL, Kind.ENUM})
_LITERALS: dict[Kind, frozenset[str]] = {
    Kind.STRING: frozenset({"string_value"}),
    Kind.ENUM: frozenset({"string_value"}),
    Kind.INT: frozenset({"int_value"}),
    Kind.DOUBLE: frozenset({"int_value", "double_value"}),
    Kind.MONEY: frozenset({"int_value", "double_value"}),
    Kind.BOOL: frozenset({"bool_value"}),
}
_SCALARS = {
    FieldDescriptor.TYPE_STRING: Kind.STRING,
    FieldDescriptor.TYPE_BOOL: Kind.BOOL,
    FieldDescriptor.TYPE_DOUBLE: Kind.DOUBLE,
    FieldDescriptor.TYPE_FLOAT: Kind.DOUBLE,
    FieldDescriptor.TYPE_INT32: Kind.INT,
    FieldDescriptor.TYPE_INT64: Kind.INT,
    FieldDescriptor.TYPE_UINT32: Kind.INT,
    FieldDescriptor.TYPE_UINT64: Kind.INT,
    FieldDescriptor.TYPE_ENUM: Kind.ENUM,
}


@functools.cache
def payload_types() -> dict[str, Descriptor]:
    """Event payload names (e.g. "order_completed") and their message descriptors."""
    oneof = event_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"]
    return {f.name: _message(f) for f in oneof.fields}


def _message(field: FieldDescriptor) -> Descriptor:
    assert field.message_type is not None, field.full_name  # only called on message fields
    return field.message_type


def resolve(event_type: str, path: str) -> Kind | str:
    """The kind of the field at `path` on the payload, or what is wrong with the path."""
    descriptor = payload_types()[event_type]
    parts = path.split(".")
    for depth, name in enumerate(parts):
        field = descriptor.fields_by_name.get(name)
        if field is None:
            known = ", ".join(sorted(descriptor.fields_by_name))
            return f"{event_type} has no field {'.'.join(parts[: depth + 1])!r} (fields: {known})"
        if field.is_repeated:
            return f"{'.'.join(parts[: depth + 1])!r} is a list; conditions compare single values"
        last = depth == len(parts) - 1
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            if _message(field).full_name == _MONEY and last:
                return Kind.MONEY
            if last:
                return f"{path!r} is a message; name one of its fields"
            descriptor = _message(field)
        elif not last:
            return f"{'.'.join(parts[: depth + 1])!r} has no fields"
        else:
            return _SCALARS.get(field.type, f"{path!r} cannot be compared")
    return f"{path!r} is empty"


def check_filter(problems: Violations, event_filter: cpb.EventFilter) -> None:
    """Violations for an EventFilter, at paths under `problems`' prefix."""
    if event_filter.event_type not in payload_types():
        known = ", ".join(sorted(payload_types()))
        problems.add("event_type", f"unknown event type {event_filter.event_type!r} (one of: {known})")
        return
    if len(event_filter.conditions) > MAX_CONDITIONS:
        problems.add("conditions", f"at most {MAX_CONDITIONS} conditions")
    for i, condition in enumerate(event_filter.conditions):
        _check_condition(problems.at(f"conditions[{i}]"), event_filter.event_type, condition)


def _check_condition(problems: Violations, event_type: str, condition: cpb.EventCondition) -> None:
    kind = resolve(event_type, condition.field) if condition.field else "required: a payload field path"
    if isinstance(kind, str):
        problems.add("field", kind)
        return
    if condition.op == Op.OPERATOR_UNSPECIFIED:
        problems.add("op", "required: EQ, NE, LT, LE, GT or GE")
    elif kind in _EQUALITY_ONLY and condition.op not in (Op.OPERATOR_EQ, Op.OPERATOR_NE):
        problems.add("op", f"a {kind.value} field takes EQ or NE only")
    literal = condition.value.WhichOneof("kind")
    if literal not in _LITERALS[kind]:
        wanted = " or ".join(sorted(_LITERALS[kind]))
        problems.add("value", f"{condition.field!r} is a {kind.value}: give {wanted}, got {literal or 'nothing'}")


def matches(event_filter: cpb.EventFilter, event: event_pb2.Event) -> bool:
    """Whether `event` is of the filter's type and meets every condition."""
    if event.WhichOneof("payload") != event_filter.event_type:
        return False
    payload = getattr(event, event_filter.event_type)
    return all(_holds(payload, condition) for condition in event_filter.conditions)


def field_value(payload: Message, path: str) -> object | None:
    """The value at `path` (Money as its amount, an enum as its value name), or None when
    a message on the way is unset."""
    found = _lookup(payload, path)
    return None if found is None else found[1]


def _lookup(payload: Message, path: str) -> tuple[Any, object] | None:
    current: Message = payload
    *parents, leaf = path.split(".")
    for name in parents:
        if not current.HasField(name):
            return None
        current = getattr(current, name)
    field = current.DESCRIPTOR.fields_by_name[leaf]
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if not current.HasField(leaf):
            return None
        money = getattr(current, leaf)
        return field, money.units + money.nanos / 1e9
    value = getattr(current, leaf)
    return field, (field.enum_type.values_by_number[value].name if field.enum_type else value)


def _holds(payload: Message, condition: cpb.EventCondition) -> bool:
    found = _lookup(payload, condition.field)
    if found is None:
        return False
    field, value = found
    wanted = getattr(condition.value, condition.value.WhichOneof("kind") or "string_value")
    if field.enum_type is not None:
        value, wanted = _enum_key(field.enum_type.name, str(value)), _enum_key(field.enum_type.name, str(wanted))
    return _COMPARE[condition.op](value, wanted)


def _enum_key(enum_name: str, value: str) -> str:
    """Enum values compare without their type prefix and case: "CHANNEL_WEB" and "web" agree."""
    prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum_name).upper() + "_"
    upper = value.upper()
    return (upper[len(prefix) :] if upper.startswith(prefix) else upper).lower()


_COMPARE: dict[int, Callable[[object, object], bool]] = {
    Op.OPERATOR_EQ: lambda a, b: a == b,
    Op.OPERATOR_NE: lambda a, b: a != b,
    Op.OPERATOR_LT: lambda a, b: a < b,  # type: ignore[operator]
    Op.OPERATOR_LE: lambda a, b: a <= b,  # type: ignore[operator]
    Op.OPERATOR_GT: lambda a, b: a > b,  # type: ignore[operator]
    Op.OPERATOR_GE: lambda a, b: a >= b,  # type: ignore[operator]
}
