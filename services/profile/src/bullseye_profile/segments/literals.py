"""Literal values of rules, checked against the type of the field they are compared with.

A literal is turned into the same representation the field getter returns (integers,
floats, strings, enum numbers, timestamps as integer nanoseconds), so evaluation is a plain
Python comparison. A string literal is only ever compared as a string: quotes, SQL or
wildcards in it match themselves.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

from bullseye.profile.v1.segments_pb2 import Literal
from google.protobuf.descriptor import EnumDescriptor

from bullseye_profile.segments.fields import FieldRef, Kind

MAX_STRING = 1024
NANOS_PER_SECOND = 1_000_000_000
MAX_AGO_NANOS = 365 * 86_400 * NANOS_PER_SECOND


class LiteralError(ValueError):
    """The literal does not fit the field; the message says what would."""


@dataclass(frozen=True)
class Ago:
    """A moment relative to evaluation time: now minus `nanos`."""

    nanos: int


Operand = int | float | str | bool | Ago

_EXPECTED = {
    Kind.STRING: "string_value",
    Kind.INT: "int_value",
    Kind.DOUBLE: "double_value or int_value",
    Kind.BOOL: "bool_value",
    Kind.ENUM: "string_value naming an enum value",
    Kind.TIMESTAMP: "timestamp_value or ago",
}


def typed(literal: Literal, ref: FieldRef) -> Operand:
    """The literal as a value comparable with what `ref.get` returns.

    Raises:
        LiteralError: unset, of the wrong kind for the field, or out of range.
    """
    kind = literal.WhichOneof("kind")
    if kind is None:
        raise LiteralError(f"set a value: {ref.path} is {ref.kind.value}, give {_EXPECTED[ref.kind]}")
    value = _convert(literal, kind, ref)
    if value is None:
        raise LiteralError(f"wrong type: {ref.path} is {ref.kind.value} and takes {_EXPECTED[ref.kind]}, not {kind}")
    return value


def _convert(literal: Literal, kind: str, ref: FieldRef) -> Operand | None:
    if ref.kind is Kind.STRING and kind == "string_value":
        return _string(literal.string_value)
    if ref.kind is Kind.INT and kind == "int_value":
        return int(literal.int_value)
    if ref.kind is Kind.DOUBLE and kind in ("int_value", "double_value"):
        return _finite(float(getattr(literal, kind)))
    if ref.kind is Kind.BOOL and kind == "bool_value":
        return bool(literal.bool_value)
    if ref.kind is Kind.ENUM and kind == "string_value" and ref.enum is not None:
        return enum_number(ref.enum, literal.string_value)
    if ref.kind is Kind.TIMESTAMP and kind == "timestamp_value":
        moment = literal.timestamp_value
        return int(moment.seconds) * NANOS_PER_SECOND + int(moment.nanos)
    if ref.kind is Kind.TIMESTAMP and kind == "ago":
        return Ago(duration_nanos(literal.ago.seconds, literal.ago.nanos, limit=MAX_AGO_NANOS))
    return None


def _string(value: str) -> str:
    if len(value) > MAX_STRING:
        raise LiteralError(f"string is {len(value)} characters; at most {MAX_STRING}")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise LiteralError("must be a finite number")
    return value


def duration_nanos(seconds: int, nanos: int, *, limit: int) -> int:
    """A positive duration no longer than `limit`, in nanoseconds.

    Raises:
        LiteralError: zero, negative or too long.
    """
    total = int(seconds) * NANOS_PER_SECOND + int(nanos)
    if total <= 0:
        raise LiteralError("must be a positive duration, e.g. 86400s for one day")
    if total > limit:
        days, most = total / NANOS_PER_SECOND / 86400, limit // NANOS_PER_SECOND // 86400
        raise LiteralError(f"is {days:g} days; at most {most} days")
    return total


def _enum_prefix(enum: EnumDescriptor) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"


def enum_number(enum: EnumDescriptor, text: str) -> int:
    """The number of the enum value named `text`: "RFM_SEGMENT_AT_RISK", "AT_RISK" or "at_risk".

    Raises:
        LiteralError: no such value (with close matches).
    """
    prefix = _enum_prefix(enum)
    wanted = text.strip().upper()
    for value in enum.values:
        if wanted in (value.name, value.name.removeprefix(prefix)):
            return int(value.number)
    short = [v.name.removeprefix(prefix).lower() for v in enum.values]
    close = difflib.get_close_matches(text.strip().lower(), short, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"one of {', '.join(short)}"
    raise LiteralError(f"{text[:60]!r} is not a value of {enum.name}; {hint}")
