"""Canonical forms of contact points: what matching (keyed hashes) and delivery both expect.

Shared by ingestion (which normalizes before sealing) and identity (which normalizes the
emails and phones an operator looks up), so that both hash the same text.
"""

from __future__ import annotations

import re

import phonenumbers

# No control character either: an address is what delivery sends to (a line break in one
# would be a header of its own), and ingestion's input rules leave this field to this check.
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f-\x9f]{1,64}@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]{2,}$")


def normalize_email(raw: str) -> str:
    """Trimmed and lower-cased (what matching and delivery both expect).

    Raises:
        ValueError: not shaped like an email address.
    """
    email = raw.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise ValueError("not a valid email address")
    return email


def normalize_phone(raw: str, *, region: str | None) -> str:
    """E.164, e.g. "+33612345678"; a national number needs the region (ISO country).

    Raises:
        ValueError: the number cannot be parsed or is not a possible number.
    """
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number ({exc.args[0] if exc.args else 'unparseable'})") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number; send it in E.164 form, e.g. +33612345678")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
