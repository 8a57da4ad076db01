"""Validation of one event: every violation, each naming its field and what to fix.

Pure functions over the proto; `validate()` returns violations instead of raising so a
batch can keep its good events. Field paths are relative to the event (`context.ip`);
the caller prefixes them (`events[3].`).

What every request field accepts (lengths, control characters, timestamp ranges) is the
platform's rule, declared in the protos and checked by `bullseye_platform.inputs` first;
the rules here are the event's own. A field the platform flagged is not reported twice.

This runs for every event (~12 us of the service's ~60-100 us CPU per event before it was
tuned), so the checks every event meets (envelope, identifiers, context) append to one
list instead of chaining generators.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import cache
from typing import TypeAlias, cast
from zoneinfo import available_timezones

from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform import inputs
from google.protobuf.descriptor import Descriptor, EnumDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc.error_details_pb2 import BadRequest
from google.type.money_pb2 import Money

from bullseye_ingestion.domain.normalize import is_ip, normalize_email, normalize_phone, region_from_locale

Violation: TypeAlias = BadRequest.FieldViolation
Violations = Iterator[Violation]

# Matched whole (`fullmatch`: `$` would let a trailing line feed through): the input rules
# leave these fields to ingestion (`checked_by_service`), so these formats are what bound them.
EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,7}")
CURRENCY = re.compile(r"[A-Z]{3}")
COUNTRY = re.compile(r"[A-Z]{2}")


def v(field: str, description: str) -> Violation:
    return Violation(field=field, description=description)


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _required(path: str, value: str) -> Violations:
    if not value.strip():
        yield v(path, "is required")


@cache
def _enum_type(message_type: Descriptor, field: str) -> EnumDescriptor:
    """Cached: the descriptor lookups cost more than the rest of the check (~1 us)."""
    descriptor = message_type.fields_by_name[field].enum_type
    assert descriptor is not None, f"{field} is not an enum field"
    return descriptor


def _enum(path: str, message: Message, field: str, *, required: bool) -> Violations:
    descriptor = _enum_type(message.DESCRIPTOR, field)
    value = getattr(message, field)
    if value in descriptor.values_by_number and (value != 0 or not required):
        return
    names = ", ".join(n for n in descriptor.values_by_name if not n.endswith("_UNSPECIFIED"))
    if value not in descriptor.values_by_number:
        yield v(path, f"unknown value {value}; expected one of {names}")
    else:
        yield v(path, f"is required; one of {names}")


def _money(path: str, money: Money, *, required: bool = False, positive: bool = False) -> Violations:
    code, units, nanos = money.currency_code, money.units, money.nanos  # each read is a upb call
    if not code and not units and not nanos:
        if required:
            yield v(path, "is required")
        return
    if not CURRENCY.fullmatch(code):
        yield v(f"{path}.currency_code", f"{code!r} is not an ISO 4217 code like 'EUR'")
    if not -999_999_999 <= nanos <= 999_999_999:
        yield v(f"{path}.nanos", "must be within ±999,999,999")
    elif (units > 0 and nanos < 0) or (units < 0 and nanos > 0):
        yield v(f"{path}.nanos", "must have the same sign as units")
    if units < 0 or nanos < 0:
        yield v(path, "must not be negative")
    elif positive and units == 0 and nanos == 0:
        yield v(path, "must be greater than zero")


def _quantity(path: str, quantity: int, minimum: int = 1) -> Violations:
    if quantity < minimum:
        yield v(path, f"is {quantity}; must be at least {minimum}")


def valid_timestamp(ts: Timestamp) -> bool:
    """From 1970 to year 9999, nanos in range: what ToDatetime() can convert without raising."""
    return 0 <= ts.seconds <= 253402300799 and 0 <= ts.nanos < 1_000_000_000


def timestamp_problem(ts: Timestamp) -> str:
    """What is wrong with a time `valid_timestamp` refused, said as the input rules say it (an
    event's times are left to this check: `checked_by_service`)."""
    if not 0 <= ts.nanos < 1_000_000_000:
        return f"has nanos {ts.nanos}; they must be 0 to 999,999,999"
    return "is out of range: an event's time is between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z"


def when(
    found: list[Violation],
    event: ev.Event,
    *,
    now: float,
    future_tolerance: float,
    live_window: float,
    backfill: bool,
) -> None:
    """`occurred_at` (already skew-corrected) must be set, not in the future, not too old.

    `now` is in seconds since the epoch: datetime.timestamp() once, not per comparison."""
    occurred_at = event.occurred_at
    if occurred_at.seconds == 0 or not event.HasField("occurred_at"):
        found.append(v("occurred_at", "is required"))
        return
    if not valid_timestamp(occurred_at):
        found.append(v("occurred_at", timestamp_problem(occurred_at)))
        return
    age = now - occurred_at.seconds - occurred_at.nanos / 1e9
    if age < -future_tolerance:
        drift = f"at most {future_tolerance:.0f}s of clock drift is accepted"
        found.append(v("occurred_at", f"is {-age:.0f}s in the future; {drift}"))
    elif age > live_window and not backfill:
        days = live_window / 86400
        found.append(
            v(
                "occurred_at",
                f"is older than the {days:g}-day live window; send history with backfill=true "
                "and a key that has the backfill scope",
            )
        )


IDENTIFYING = "anonymous_id, user_id, loyalty_id, email and phone"


def identifiers(found: list[Violation], ids: ev.Identifiers, event: ev.Event) -> None:
    """At least one identifier a person can be found by (a device id alone is not one); an
    email or phone must be one (it is how a till's or a call centre's customer is found)."""
    email, phone = ids.email, ids.phone
    if not (ids.anonymous_id.strip() or ids.user_id.strip() or ids.loyalty_id.strip() or email or phone):
        found.append(v("identifiers", f"needs at least one of {IDENTIFYING}"))
    if email or phone:
        found.extend(_contact("identifiers", ids, region=region_of(event)))


@cache
def _known(message_type: Descriptor, field: str) -> frozenset[int]:
    """The numbers an enum field may hold: one set lookup on the path of a valid event."""
    return frozenset(_enum_type(message_type, field).values_by_number)


def context(found: list[Violation], ctx: ev.Context) -> None:
    if ctx.channel not in _known(ev.Context.DESCRIPTOR, "channel"):
        found.extend(_enum("context.channel", ctx, "channel", required=False))
    ip, locale, timezone = ctx.ip, ctx.locale, ctx.timezone
    if ip and not is_ip(ip):
        found.append(v("context.ip", f"{ip!r} is not an IPv4 or IPv6 address"))
    if locale and not LOCALE.fullmatch(locale):
        found.append(v("context.locale", f"{locale!r} is not a BCP 47 tag like 'en-US'"))
    if timezone and timezone not in _zones():
        found.append(v("context.timezone", f"{timezone!r} is not an IANA time zone like 'Europe/Paris'"))


def _contact(path: str, data: ev.PersonalData | ev.Identifiers, *, region: str | None) -> Violations:
    """The email and phone of personal data or of the identifiers: what they normalize to is
    what identity matches and delivers to."""
    if data.email:
        try:
            normalize_email(data.email)
        except ValueError as exc:
            yield v(f"{path}.email", str(exc))
    if data.phone:
        try:
            normalize_phone(data.phone, region=region)
        except ValueError as exc:
            yield v(f"{path}.phone", str(exc))


def traits(path: str, t: ev.Traits, *, year: int) -> Violations:
    if t.birth_year and not 1900 <= t.birth_year <= year:
        yield v(f"{path}.birth_year", f"is {t.birth_year}; must be between 1900 and {year}")
    if t.country and not COUNTRY.fullmatch(t.country):
        yield v(f"{path}.country", f"{t.country!r} is not an ISO 3166-1 alpha-2 code like 'FR'")
    if len(t.custom) > 100:
        yield v(f"{path}.custom", f"has {len(t.custom)} entries; at most 100")


def region_of(event: ev.Event) -> str | None:
    """The country to read national phone numbers in: traits.country, else the locale's region."""
    if event.WhichOneof("payload") == "identified" and event.identified.traits.country:
        return event.identified.traits.country
    return region_from_locale(event.context.locale) if event.context.locale else None


PayloadCheck = Callable[[str, Message, ev.Event, datetime], Violations]


def _line_items(path: str, order: ev.OrderCompleted) -> Violations:
    if not order.items:
        yield v(f"{path}.items", "needs at least one line item")
    for i, item in enumerate(order.items):
        yield from _required(f"{path}.items[{i}].product_id", item.product_id)
        yield from _quantity(f"{path}.items[{i}].quantity", item.quantity)
        yield from _money(f"{path}.items[{i}].unit_price", item.unit_price, required=True)


def _order(path: str, m: Message, e: ev.Event, now: datetime) -> Violations:
    assert isinstance(m, ev.OrderCompleted)
    yield from _required(f"{path}.order_id", m.order_id)
    yield from _line_items(path, m)
    yield from _money(f"{path}.revenue", m.revenue, required=True)
    yield from _money(f"{path}.discount", m.discount)


def _product(path: str, m: Message, e: ev.Event, now: datetime) -> Violations:
    """Product view, cart add/remove, wishlist: the kind is in `path` (the payload's name);
    branching on it is ~1 us cheaper than isinstance over a union of classes."""
    product = cast(ev.ProductViewed, m)  # every one of them has product_id
    yield from _required(f"{path}.product_id", product.product_id)
    if path in ("product_viewed", "cart_item_added"):
        yield from _money(f"{path}.price", product.price)
    if path == "cart_item_added":
        yield from _quantity(f"{path}.quantity", cast(ev.CartItemAdded, m).quantity, 1)
    elif path == "cart_item_removed":
        yield from _quantity(f"{path}.quantity", cast(ev.CartItemRemoved, m).quantity, 0)


def _search(path: str, m: Message, e: ev.Event, now: datetime) -> Violations:
    assert isinstance(m, ev.Searched)
    yield from _required(f"{path}.query", m.query)


def _checkout(path: str, m: Message, e: ev.Event, now: datetime) -> Violations:
    assert isinstance(m, ev.CheckoutStarted)
    yield from _money(f"{path}.value", m.value)


def _refund(path: str, m: Message, e: ev.Event, now: datetime) -> Violations:
    assert isinstance(m, ev.OrderRefunded)
    yield from _required(f"{path}.order_id", m.order_id)
    yield from _money(f"{path}.amount", m.amount, required=True, positive=True)


def _review(path: str, m: Message, e: ev.Event, now: datetime) -> Violations:
    assert isinstance(m, ev.ReviewSubmitted)
    yield from _required(f"{path}.product_id", m.product_id)
    if not 1 <= m.rating <= 5:
        yield v(f"{path}.rating", f"is {m.rating}; must be 1 to 5")


def _signup(path: str, m: Message, e: ev.Event, now: datetime) -> Violations:
    assert isinstance(m, ev.SignedUp)
    yield from _contact(f"{path}.personal", m.personal, region=region_of(e))


def _identify(path: str, m: Message, e: ev.Event, now: datetime) -> Violations:
    assert isinstance(m, ev.Identified)
    yield from traits(f"{path}.traits", m.traits, year=now.year)
    yield from _contact(f"{path}.personal", m.personal, region=region_of(e))


def _consent(path: str, m: Message, e: ev.Event, now: datetime) -> Violations:
    yield from _enum(f"{path}.purpose", m, "purpose", required=True)
    yield from _enum(f"{path}.channel", m, "channel", required=True)


def _interaction(path: str, m: Message, e: ev.Event, now: datetime) -> Violations:
    assert isinstance(m, ev.MessageInteracted)
    yield from _required(f"{path}.message_id", m.message_id)
    yield from _enum(f"{path}.interaction", m, "interaction", required=True)
    yield from _enum(f"{path}.channel", m, "channel", required=False)


def _nothing(path: str, m: Message, e: ev.Event, now: datetime) -> Violations:
    yield from ()


PAYLOAD_CHECKS: dict[str, PayloadCheck] = {
    "page_viewed": _nothing,
    "product_viewed": _product,
    "searched": _search,
    "cart_item_added": _product,
    "cart_item_removed": _product,
    "wishlist_item_added": _product,
    "checkout_started": _checkout,
    "order_completed": _order,
    "order_refunded": _refund,
    "review_submitted": _review,
    "signed_up": _signup,
    "logged_in": _nothing,
    "logged_out": _nothing,
    "identified": _identify,
    "consent_changed": _consent,
    "message_interacted": _interaction,
}


def validate(
    event: ev.Event,
    *,
    now: datetime,
    future_tolerance: float,
    live_window: float,
    backfill: bool,
    serialized: bytes | None = None,
) -> list[Violation]:
    """Every violation of `event`; empty means it may be stored. `serialized` is the event as
    the client sent it, when the caller has its bytes (the input rules' screen reads them)."""
    flagged = inputs.violations(event, serialized=serialized)
    found: list[Violation] = []
    if not EVENT_ID.fullmatch(event.event_id):
        found.append(v("event_id", "is required: 8-128 characters of [A-Za-z0-9._:-] (a UUID is best)"))
    if event.HasField("sent_at") and not valid_timestamp(event.sent_at):
        found.append(v("sent_at", timestamp_problem(event.sent_at)))
    at = now.timestamp()
    when(found, event, now=at, future_tolerance=future_tolerance, live_window=live_window, backfill=backfill)
    identifiers(found, event.identifiers, event)
    context(found, event.context)
    kind = event.WhichOneof("payload")
    if kind is None:
        found.append(v("payload", f"is required; set exactly one of {', '.join(PAYLOAD_CHECKS)}"))
    elif (check := PAYLOAD_CHECKS[kind]) is not _nothing:
        found.extend(check(kind, getattr(event, kind), event, now))
    if flagged:
        fields = {f.field for f in flagged}
        return flagged + [f for f in found if f.field not in fields]
    return found
