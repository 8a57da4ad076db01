"""Hypothesis strategies that build any protobuf message from its descriptor, hostile text included.

Every field of every type may be set: strings from all of Unicode (controls, NUL, line
breaks, C1, right-to-left marks) and over-long, integers across their whole wire range,
floats with NaN and infinities, enums with numbers nobody declared, timestamps and
durations out of range, nested messages down to `depth`. A new field or message in the
protos is covered without a change here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

F = FieldDescriptor
_INT_RANGES = {
    F.TYPE_INT32: (-(2**31), 2**31 - 1), F.TYPE_SINT32: (-(2**31), 2**31 - 1), F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    F.TYPE_ENUM: (-(2**31), 2**31 - 1), F.TYPE_UINT32: (0, 2**32 - 1), F.TYPE_FIXED32: (0, 2**32 - 1),
    F.TYPE_INT64: (-(2**63), 2**63 - 1), F.TYPE_SINT64: (-(2**63), 2**63 - 1), F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1), F.TYPE_FIXED64: (0, 2**64 - 1),
}  # fmt: skip
NASTY = ["", " ", "\x00", "a\x00b", "\x1b[31m", "line\nbreak", "\t", "\x7f", "\x85", "\u202e", "null", "0", "é" * 300]


def text(*, max_size: int = 40) -> st.SearchStrategy[str]:
    """Any string a client could send: mostly short, some hostile, some past every limit."""
    return st.one_of(
        st.text(max_size=max_size),
        st.sampled_from(NASTY),
        st.text(alphabet=st.characters(max_codepoint=0x9F), max_size=max_size),
        st.builds(str.__mul__, st.sampled_from("ab\x00"), st.integers(250, 2100)),
    )


def plain_text() -> st.SearchStrategy[str]:
    """Strings without control characters, some shaped like what services look for (field
    paths, enum names, addresses): they get past the input rules into the services' own."""
    shaped = ["traits.country", "value.rfm.segment", "RFM_SEGMENT_AT_RISK", "order_completed", "a@example.com",
              "+33612345678", "user:u-1", "FR", "EUR", "en-US", "Europe/Paris", "night_owl", "7d"]  # fmt: skip
    return st.one_of(st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=30), st.sampled_from(shaped))


_TEXT = text()


def _enum_values(field: FieldDescriptor) -> st.SearchStrategy[int]:
    assert field.enum_type is not None
    declared = st.sampled_from([value.number for value in field.enum_type.values])
    return st.one_of(declared, declared, st.integers(-5, 2**31 - 1))


def _scalar(field: FieldDescriptor, strings: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    if field.type == F.TYPE_STRING:
        return strings
    if field.type == F.TYPE_BYTES:
        return st.binary(max_size=40)
    if field.type == F.TYPE_BOOL:
        return st.booleans()
    if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return st.floats(width=64 if field.type == F.TYPE_DOUBLE else 32)
    if field.type == F.TYPE_ENUM:
        return _enum_values(field)
    low, high = _INT_RANGES[field.type]
    return st.one_of(st.integers(-3, 3).filter(lambda n: low <= n <= high), st.integers(low, high))


def messages(
    message_type: type[Message] | Descriptor, *, depth: int = 3, strings: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[Message]:
    """Messages of `message_type` with any subset of their fields set (one member per oneof)."""
    descriptor = message_type if isinstance(message_type, Descriptor) else message_type.DESCRIPTOR
    return _build(descriptor, depth, strings if strings is not None else _TEXT)


@cache
def _build(descriptor: Descriptor, depth: int, strings: st.SearchStrategy[str]) -> st.SearchStrategy[Message]:
    """Cached: building a strategy costs more than drawing from it."""

    @st.composite
    def build(draw: st.DrawFn) -> Message:
        message = message_factory.GetMessageClass(descriptor)()
        chosen = {o.name: draw(st.sampled_from([None, *o.fields])) for o in descriptor.oneofs}
        for field in descriptor.fields:
            oneof = field.containing_oneof
            if oneof is not None and chosen[oneof.name] is not field:
                continue
            if (oneof is None and not draw(st.booleans())) or (field.message_type is not None and depth <= 0):
                continue
            _set(message, field, draw, depth, strings)
        return message

    return build()


def _set(
    message: Message, field: FieldDescriptor, draw: st.DrawFn, depth: int, strings: st.SearchStrategy[str]
) -> None:
    target = getattr(message, field.name)
    child = field.message_type
    if child is not None and child.GetOptions().map_entry:
        key, value = child.fields_by_name["key"], child.fields_by_name["value"]
        for k in draw(st.lists(_scalar(key, strings), max_size=3)):
            if value.message_type is None:
                target[k] = draw(_scalar(value, strings))
            else:
                target[k].CopyFrom(draw(_build(value.message_type, depth - 1, strings)))
    elif child is not None and field.is_repeated:
        for item in draw(st.lists(_build(child, depth - 1, strings), max_size=3)):
            target.add().CopyFrom(item)
    elif child is not None:
        target.CopyFrom(draw(_build(child, depth - 1, strings)))
    elif field.is_repeated:
        target.extend(draw(st.lists(_scalar(field, strings), max_size=3)))
    else:
        setattr(message, field.name, draw(_scalar(field, strings)))
