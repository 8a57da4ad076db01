"""What a request field accepts: the project's text policy and the well-known types' ranges.

Declared once, in the contract (`protos/bullseye/input/v1/input.proto`): no string holds a
NUL, and a string field holds at most `DEFAULT_MAX_LENGTH` characters and no other control
character unless its `(bullseye.input.v1.text)` option says otherwise.

Why these rules. NUL is the one character PostgreSQL refuses, in `text` and in `jsonb`:
what ingestion accepted with one, a projection would dead-letter. A bound matters where a
value becomes a key: a btree entry holds at most ~2,700 bytes, and an identifier or a
category of 256 characters (1 KiB of UTF-8 at most) always fits. Other control characters
harm neither PostgreSQL, nor the JSON logs (escaped), nor protobuf; they are refused in
bounded fields, which are read for their length anyway, because an id or a name with an
invisible character is another id that looks the same wherever it is shown or matched (a
NATS header, a CSV export, a terminal). Free text (`free`: a page title, a review) is
bounded by the item that holds it (an event's 32 KiB) and refuses only NUL, so checking
it costs no read of its own (walk.py's screen on the serialized bytes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from bullseye.input.v1 import input_pb2
from google.protobuf.descriptor import FieldDescriptor

DEFAULT_MAX_LENGTH = 256
# C0 (U+0000-U+001F), DEL and C1 (U+0080-U+009F); multi-line text keeps tab, LF and CR.
_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MULTI_LINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# google.protobuf.Timestamp and Duration as their specification bounds them
# (timestamp.proto, duration.proto): what every language's conversion accepts.
TIMESTAMP = "google.protobuf.Timestamp"
DURATION = "google.protobuf.Duration"
MIN_SECONDS, MAX_SECONDS = -62_135_596_800, 253_402_300_799  # 0001-01-01T00:00:00Z, 9999-12-31T23:59:59Z
MAX_DURATION_SECONDS = 315_576_000_000  # 10,000 years
MAX_NANOS = 999_999_999


@dataclass(frozen=True)
class TextRule:
    """What one string field accepts."""

    max_length: int
    multiline: bool
    free: bool = False

    @property
    def forbidden(self) -> re.Pattern[str]:
        return _MULTI_LINE if self.multiline else _SINGLE_LINE

    def problem(self, value: str) -> str | None:
        """What is wrong with `value`, or None. `isprintable()` clears most values in C
        before the regular expression runs."""
        if self.free:
            at = value.find("\x00")
            return None if at < 0 else f"contains NUL (U+0000) at position {at}, which no projection can store"
        if len(value) > self.max_length:
            return f"is {len(value)} characters; at most {self.max_length}"
        if value.isprintable():
            return None
        bad = self.forbidden.search(value)
        if bad is None:
            return None
        allowed = "; only tab, line feed and carriage return are allowed" if self.multiline else ""
        return f"contains the control character U+{ord(bad.group()):04X} at position {bad.start()}{allowed}"


DEFAULT_RULE = TextRule(DEFAULT_MAX_LENGTH, multiline=False)
# What the rules still ask of a field the service checks itself: no NUL (the bytes' screen).
NUL_ONLY = TextRule(0, multiline=False, free=True)


@cache
def text_rule(field: FieldDescriptor) -> TextRule:
    """The rule of a string field (or of a map field's values): its option, else the default."""
    options = field.GetOptions()
    if options.Extensions[input_pb2.checked_by_service]:
        return NUL_ONLY
    if not options.HasExtension(input_pb2.text):
        return DEFAULT_RULE
    declared = options.Extensions[input_pb2.text]
    return TextRule(declared.max_length or DEFAULT_MAX_LENGTH, declared.multiline, declared.free)


def checked_per_item(field: FieldDescriptor) -> bool:
    """Whether the service checks this field's items itself, one by one."""
    return bool(field.GetOptions().Extensions[input_pb2.checked_per_item])


def left_to_service(field: FieldDescriptor) -> bool:
    """Whether the rules read nothing of a field: the server sets it, or it is a message (a
    time) the service checks itself. A string the service checks is still screened for NUL."""
    options = field.GetOptions()
    if options.Extensions[input_pb2.set_by_server]:
        return True
    return field.message_type is not None and bool(options.Extensions[input_pb2.checked_by_service])


def timestamp_problem(seconds: int, nanos: int) -> str | None:
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        return "is out of range: a timestamp is between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z"
    if not 0 <= nanos <= MAX_NANOS:
        return f"has nanos {nanos}; they must be 0 to {MAX_NANOS:,}"
    return None


def duration_problem(seconds: int, nanos: int) -> str | None:
    if not -MAX_DURATION_SECONDS <= seconds <= MAX_DURATION_SECONDS:
        return f"is out of range: a duration is at most {MAX_DURATION_SECONDS:,} seconds (10,000 years) either way"
    if not -MAX_NANOS <= nanos <= MAX_NANOS:
        return f"has nanos {nanos}; they must be within +-{MAX_NANOS:,}"
    if (seconds > 0 > nanos) or (seconds < 0 < nanos):
        return "has seconds and nanos of opposite signs"
    return None
