"""Prices as integer cents in generation, as google.type.Money on the wire (never floats)."""

from __future__ import annotations

from google.type.money_pb2 import Money

CURRENCY = "EUR"


def eur(cents: int) -> Money:
    """`cents` euro cents as Money: units are whole euros, nanos the rest (same sign)."""
    return Money(currency_code=CURRENCY, units=cents // 100, nanos=(cents % 100) * 10_000_000)


def cents(money: Money) -> int:
    """The Money back in cents (exact for amounts made by `eur`)."""
    return int(money.units) * 100 + int(money.nanos) // 10_000_000
