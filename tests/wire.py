"""Protobuf wire bytes built by hand: what a hostile or buggy client can send that the
generated code would never produce (fields nobody declared, nesting past the parser's depth)."""

from __future__ import annotations


def varint(number: int) -> bytes:
    out = bytearray()
    while True:
        low, number = number & 0x7F, number >> 7
        out.append(low | (0x80 if number else 0))
        if not number:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): a string, bytes or a message."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def unknown(payload: bytes, number: int = 999) -> bytes:
    """A field no message of the contract declares, carrying `payload`."""
    return field(number, payload)


def nested_rule(levels: int) -> bytes:
    """A bullseye.profile.v1.Rule of `levels` none_of levels around an exists condition
    (none_of = 3, RuleList.rules = 1, exists = 6, Exists.field = 1)."""
    rule = field(6, field(1, b"traits.city"))
    for _ in range(levels):
        rule = field(3, field(1, rule))
    return rule
