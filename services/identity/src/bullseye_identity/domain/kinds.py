"""The identifier types and how the graph names one identifier (shared by every rule)."""

from __future__ import annotations

from collections.abc import Iterable

USER_ID, EMAIL, PHONE, DEVICE_ID, ANONYMOUS_ID = "user_id", "email", "phone", "device_id", "anonymous_id"
# A loyalty (membership) card: what a till knows of a member who has no account login there.
LOYALTY_ID = "loyalty_id"
TYPES = (USER_ID, LOYALTY_ID, EMAIL, PHONE, DEVICE_ID, ANONYMOUS_ID)
# Matched by keyed hash: the stored value is the HMAC hex, never the address.
HASHED_TYPES = (EMAIL, PHONE)
# Identifiers of a device rather than of a person: shared when several persons use the device.
DEVICE_TYPES = (DEVICE_ID, ANONYMOUS_ID)

# An identifier: (type, value); the value of an email or phone is its keyed hash.
Key = tuple[str, str]

# Between the identifiers of an encoded list: ingestion refuses control characters inside ids.
_SEPARATOR = "\x1f"


def encode_key(key: Key) -> str:
    """ "type:value" (a type name holds no colon); "" for no identifier."""
    return f"{key[0]}:{key[1]}" if key[0] else ""


def decode_key(text: str) -> Key:
    id_type, _, value = text.partition(":")
    return id_type, value


def encode_keys(keys: Iterable[Key]) -> str:
    return _SEPARATOR.join(encode_key(k) for k in keys)


def decode_keys(text: str) -> tuple[Key, ...]:
    return tuple(decode_key(part) for part in text.split(_SEPARATOR)) if text else ()
