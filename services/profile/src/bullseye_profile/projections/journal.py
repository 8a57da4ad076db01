"""What one resolved event contributes to its person: a `journal` row.

Only the facts profiles are computed from are kept (no personal data, no free text):
type, time, local hour, channel and device, amounts, prices, categories and brands,
and the traits or consent statement of identify and consent events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bullseye.events.v1 import event_pb2
from google.type import money_pb2

COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "text"), ("person_id", "text"), ("event_type", "text"), ("occurred_at", "timestamptz"),
    ("local_hour", "smallint"), ("channel", "smallint"), ("device_type", "text"), ("timezone", "text"),
    ("session_id", "text"), ("amount", "numeric"), ("currency", "text"), ("unit_price", "numeric"),
    ("discounted", "boolean"), ("categories", "jsonb"), ("brands", "jsonb"), ("detail", "jsonb"),
)  # fmt: skip


@dataclass(frozen=True)
class Contribution:
    amount: Decimal = Decimal(0)
    currency: str = ""
    unit_price: Decimal | None = None
    discounted: bool = False
    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    detail: dict[str, Any] | None = None


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo | None:
    """The IANA zone, or None for an empty or unknown name (the row then uses UTC)."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def money(value: money_pb2.Money) -> Decimal:
    return Decimal(value.units) + Decimal(value.nanos).scaleb(-9)


def occurred_at(event: event_pb2.Event) -> datetime:
    stamp = event.occurred_at if event.HasField("occurred_at") else event.receipt.received_at
    return stamp.ToDatetime(tzinfo=UTC)


def row_for(person_id: str, event: event_pb2.Event) -> tuple[Any, ...] | None:
    """The journal row of `event`, or None when it says nothing about a person (no payload, e.g.
    a catalog item of a RESOLVED stream written before items had their own stream, whose
    payload field is unknown now; or no person or event id: identity never sends those,
    nothing to key them by)."""
    kind = event.WhichOneof("payload")
    if kind is None or not person_id or not event.event_id:
        return None
    when = occurred_at(event)
    tz = zone(event.context.timezone)
    local_hour = when.astimezone(tz).hour if tz else when.hour
    c = contribution(event, kind)
    return (
        event.event_id, person_id, kind, when, local_hour, int(event.context.channel), event.context.device.type,
        event.context.timezone if tz else "", event.context.session_id, c.amount, c.currency, c.unit_price,
        c.discounted, _json_list(c.categories), _json_list(c.brands),
        None if c.detail is None else json.dumps(c.detail),
    )  # fmt: skip


def contribution(event: event_pb2.Event, kind: str) -> Contribution:
    if kind == "order_completed":
        return _order(event.order_completed)
    if kind == "order_refunded":
        refund = event.order_refunded
        return Contribution(amount=money(refund.amount), currency=refund.amount.currency_code)
    if kind == "product_viewed":
        viewed = event.product_viewed
        price = money(viewed.price) if viewed.HasField("price") else None
        return Contribution(unit_price=price, categories=_present(viewed.category))
    if kind == "cart_item_added":
        added = event.cart_item_added
        return Contribution(unit_price=money(added.price) if added.HasField("price") else None)
    if kind == "page_viewed":
        return Contribution(categories=_present(event.page_viewed.category))
    if kind == "identified":
        return Contribution(detail=_traits(event.identified.traits))
    if kind == "consent_changed":
        consent = event.consent_changed
        detail = {"purpose": consent.purpose, "channel": consent.channel, "granted": consent.granted}
        return Contribution(detail={**detail, "source": consent.source})
    return Contribution()


def _json_list(values: tuple[str, ...]) -> str:
    """The jsonb text of a list; most events have none, and a rebuild folds millions of rows."""
    return json.dumps(list(values)) if values else "[]"


def _present(*values: str) -> tuple[str, ...]:
    return tuple(v for v in values if v)


def _order(order: event_pb2.OrderCompleted) -> Contribution:
    quantity = sum(max(item.quantity, 1) for item in order.items)
    items_total = sum((money(item.unit_price) * max(item.quantity, 1) for item in order.items), Decimal(0))
    revenue = money(order.revenue) if order.HasField("revenue") else items_total
    currency = order.revenue.currency_code or next((i.unit_price.currency_code for i in order.items), "")
    return Contribution(
        amount=revenue,
        currency=currency,
        unit_price=items_total / quantity if quantity else None,
        discounted=bool(order.coupon) or (order.HasField("discount") and money(order.discount) > 0),
        categories=tuple(dict.fromkeys(i.category for i in order.items if i.category)),
        brands=tuple(dict.fromkeys(i.brand for i in order.items if i.brand)),
    )


def _traits(traits: event_pb2.Traits) -> dict[str, Any]:
    """Only the traits the event sets: an identify call updates, it does not clear."""
    detail: dict[str, Any] = {
        name: getattr(traits, name)
        for name in ("gender", "birth_year", "city", "country", "membership_tier")
        if getattr(traits, name)
    }
    if traits.custom:
        detail["custom"] = dict(traits.custom)
    return detail
