"""Field paths of segment rules, resolved against the Profile message descriptor.

A rule names a field as a dotted path on `bullseye.profile.v1.Profile` ("traits.country",
"value.rfm.segment", "traits.custom.<key>"). The path is resolved once, when the rule is
compiled, into a getter; the descriptor is the only list of names accepted, so a path is
never anything but a walk over known fields (a name like "country'; DROP TABLE x;--" is
simply an unknown field).
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Callable
from dataclasses import dataclass

from bullseye.profile.v1.profile_pb2 import Profile
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

TIMESTAMP = "google.protobuf.Timestamp"
MAX_PATH = 300


class Kind(enum.Enum):
    STRING = "a string"
    INT = "an integer"
    DOUBLE = "a number"
    BOOL = "a boolean"
    ENUM = "an enum"
    TIMESTAMP = "a timestamp"
    MESSAGE = "a group of fields"


_SCALARS = {
    FieldDescriptor.TYPE_STRING: Kind.STRING,
    FieldDescriptor.TYPE_BOOL: Kind.BOOL,
    FieldDescriptor.TYPE_DOUBLE: Kind.DOUBLE,
    FieldDescriptor.TYPE_FLOAT: Kind.DOUBLE,
    FieldDescriptor.TYPE_ENUM: Kind.ENUM,
    **{
        t: Kind.INT
        for t in (
            FieldDescriptor.TYPE_INT32,
            FieldDescriptor.TYPE_INT64,
            FieldDescriptor.TYPE_UINT32,
            FieldDescriptor.TYPE_UINT64,
            FieldDescriptor.TYPE_SINT32,
            FieldDescriptor.TYPE_SINT64,
        )
    },
}

# What a getter returns: None when the field is absent (unset timestamp or message, missing
# map key); timestamps as integer nanoseconds; enums as their number; messages as True.
Getter = Callable[[Message], object]


class PathError(ValueError):
    """The path names no usable field; the message says why and lists close matches."""


@dataclass(frozen=True)
class FieldRef:
    path: str
    kind: Kind
    get: Getter
    enum: EnumDescriptor | None = None
    # For a message: the names of its fields, to suggest in errors.
    children: tuple[str, ...] = ()


def resolve(path: str, root: Descriptor = Profile.DESCRIPTOR) -> FieldRef:
    """The field at `path` under `root`.

    Raises:
        PathError: empty, too long, an unknown name (with close matches), a list, or a
            path that goes on past a value.
    """
    if not path:
        raise PathError("set a field path, e.g. traits.country")
    if len(path) > MAX_PATH:
        raise PathError(f"is {len(path)} characters; at most {MAX_PATH}")
    names = path.split(".")
    steps: list[str] = []
    descriptor = root
    for index, name in enumerate(names):
        field = _field(descriptor, name, ".".join(names[:index]))
        rest = names[index + 1 :]
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            return _map_entry(path, steps, field, ".".join(rest))
        if field.is_repeated:
            raise PathError(
                f"{'.'.join(names[: index + 1])} is a list; rules cannot compare lists (use `tag` for tags)"
            )
        if field.message_type is None or field.message_type.full_name == TIMESTAMP:
            if rest:
                raise PathError(f"{'.'.join(names[: index + 1])} is a single value and has no field {rest[0]!r}")
            return _leaf(path, steps, field)
        steps.append(field.name)
        descriptor = field.message_type
    return FieldRef(path, Kind.MESSAGE, _presence(steps), children=tuple(f.name for f in descriptor.fields))


def _field(descriptor: Descriptor, name: str, parent: str) -> FieldDescriptor:
    field = descriptor.fields_by_name.get(name)
    if field is not None:
        return field
    known = [f.name for f in descriptor.fields]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    where = f"{parent}." if parent else ""
    hint = f"did you mean {', '.join(where + c for c in close)}?" if close else f"known: {', '.join(known)}"
    raise PathError(f"unknown field {name[:60]!r} in {parent or 'Profile'}; {hint}")


def _walk(steps: list[str]) -> Callable[[Message], Message]:
    names = tuple(steps)

    def walk(message: Message) -> Message:
        for name in names:
            message = getattr(message, name)
        return message

    return walk


def _presence(steps: list[str]) -> Getter:
    """True when every message on the path is set, else None."""
    names = tuple(steps)

    def present(message: Message) -> object:
        for name in names:
            if not message.HasField(name):
                return None
            message = getattr(message, name)
        return True

    return present


def _leaf(path: str, steps: list[str], field: FieldDescriptor) -> FieldRef:
    walk, name = _walk(steps), field.name
    if field.message_type is not None:

        def timestamp(message: Message) -> object:
            parent = walk(message)
            if not parent.HasField(name):
                return None
            value = getattr(parent, name)
            return int(value.seconds) * 1_000_000_000 + int(value.nanos)

        return FieldRef(path, Kind.TIMESTAMP, timestamp)

    def scalar(message: Message) -> object:
        return getattr(walk(message), name)

    return FieldRef(path, _SCALARS[field.type], scalar, enum=field.enum_type)


def _map_entry(path: str, steps: list[str], field: FieldDescriptor, key: str) -> FieldRef:
    entry_type = field.message_type
    assert entry_type is not None  # a map field's type is its entry message
    value_field = entry_type.fields_by_name["value"]
    if not key:
        raise PathError(f"{path} is a map; name a key, e.g. {path}.<key>")
    if value_field.message_type is not None or value_field.type not in _SCALARS:
        raise PathError(f"{path}: maps of messages cannot be compared")
    walk, name = _walk(steps), field.name

    def entry(message: Message) -> object:
        return getattr(walk(message), name).get(key)

    return FieldRef(path, _SCALARS[value_field.type], entry, enum=value_field.enum_type)
