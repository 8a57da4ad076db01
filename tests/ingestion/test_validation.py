"""Field-by-field rules: every bad event is rejected with a violation that names the field
and says what to fix; a valid example of every payload kind is accepted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from google.type.money_pb2 import Money

from tests.ingestion import helpers as h


def eur(units: int, nanos: int = 0, currency: str = "EUR") -> Money:
    return Money(currency_code=currency, units=units, nanos=nanos)


def order(**overrides: object) -> ev.Event:
    fields: dict[str, object] = {
        "order_id": "o-1",
        "items": [ev.LineItem(product_id="p1", quantity=1, unit_price=eur(10))],
        "revenue": eur(10),
    }
    fields.update(overrides)
    return h.event(order_completed=ev.OrderCompleted(**fields))


def with_context(**fields: object) -> ev.Event:
    built = h.event()
    built.context.CopyFrom(ev.Context(**fields))
    return built


def with_identifiers(**fields: str) -> ev.Event:
    built = h.event()
    built.identifiers.MergeFrom(ev.Identifiers(**fields))
    return built


def no_payload() -> ev.Event:
    built = h.event()
    built.ClearField("page_viewed")
    return built


@dataclass(frozen=True)
class Bad:
    """An event, the field its violation must name, and words the description must contain."""

    build: Callable[[], ev.Event]
    field: str
    says: tuple[str, ...]


CHANNELS = ("CHANNEL_APP", "CHANNEL_WEB", "CHANNEL_MINI_PROGRAM", "CHANNEL_STORE", "CHANNEL_OTHER")
PURPOSES = ("CONSENT_PURPOSE_ANALYTICS", "CONSENT_PURPOSE_PERSONALIZATION", "CONSENT_PURPOSE_MARKETING")
EMAIL = ev.ContactChannel.CONTACT_CHANNEL_EMAIL
MARKETING = ev.ConsentPurpose.CONSENT_PURPOSE_MARKETING

BAD: dict[str, Bad] = {
    # envelope
    "event_id_too_short": Bad(lambda: h.event(event_id="short"), "event_id", ("8-128",)),
    "event_id_with_spaces": Bad(lambda: h.event(event_id="has spaces in it"), "event_id", ("[A-Za-z0-9._:-]",)),
    "event_id_missing": Bad(lambda: h.event(event_id=""), "event_id", ("required",)),
    "identifiers_missing": Bad(lambda: h.event(anonymous_id=None), "identifiers", ("anonymous_id", "user_id")),
    "identifier_too_long": Bad(lambda: h.event(anonymous_id="a" * 300), "identifiers.anonymous_id", ("256",)),
    "identifier_with_control_characters": Bad(
        lambda: h.event(anonymous_id="anon\x07bell"), "identifiers.anonymous_id", ("control",)
    ),
    "device_id_with_control_characters": Bad(
        lambda: with_identifiers(device_id="dev\x00ice"), "identifiers.device_id", ("control",)
    ),
    "payload_missing": Bad(no_payload, "payload", ("required", "page_viewed", "order_completed")),
    # formats bound what the input rules leave to ingestion: matched whole, no line feed after
    "event_id_with_a_line_feed": Bad(lambda: h.event(event_id="e-12345678\n"), "event_id", ("[A-Za-z0-9._:-]",)),
    "identifying_email_with_a_control": Bad(
        lambda: with_identifiers(email="a\x1bb@example.com"), "identifiers.email", ("email",)
    ),
    # context
    "unknown_channel": Bad(lambda: with_context(channel=99), "context.channel", ("99", *CHANNELS)),
    "invalid_ip": Bad(lambda: with_context(ip="999.1.2.3"), "context.ip", ("IPv4 or IPv6",)),
    "bad_timezone": Bad(lambda: with_context(timezone="Mars/Olympus_Mons"), "context.timezone", ("IANA",)),
    "bad_locale": Bad(lambda: with_context(locale="english!"), "context.locale", ("BCP 47",)),
    "locale_with_a_line_feed": Bad(lambda: with_context(locale="en-US\n"), "context.locale", ("BCP 47",)),
    "session_id_too_long": Bad(lambda: with_context(session_id="s" * 257), "context.session_id", ("256",)),
    "page_url_with_a_nul": Bad(lambda: with_context(page=ev.Page(url="https://x/\x00")), "context.page.url", ("NUL",)),
    "user_agent_with_a_nul": Bad(lambda: with_context(user_agent="Mozilla\x00"), "context.user_agent", ("NUL",)),
    "event_over_32_kib": Bad(lambda: with_context(page=ev.Page(title="t" * 33_000)), "", ("32768 bytes",)),
    # consent and messages
    "unknown_consent_purpose": Bad(
        lambda: h.event(consent_changed=ev.ConsentChanged(purpose=42, channel=EMAIL)),
        "consent_changed.purpose",
        ("42", *PURPOSES),
    ),
    "consent_purpose_missing": Bad(
        lambda: h.event(consent_changed=ev.ConsentChanged(channel=EMAIL)), "consent_changed.purpose", ("required",)
    ),
    "consent_channel_missing": Bad(
        lambda: h.event(consent_changed=ev.ConsentChanged(purpose=MARKETING)),
        "consent_changed.channel",
        ("required", "CONTACT_CHANNEL_EMAIL"),
    ),
    "unknown_message_interaction": Bad(
        lambda: h.event(message_interacted=ev.MessageInteracted(message_id="m1", interaction=7)),
        "message_interacted.interaction",
        ("7", "MESSAGE_INTERACTION_CLICKED"),
    ),
    # reviews, carts, searches
    "review_rating_0": Bad(
        lambda: h.event(review_submitted=ev.ReviewSubmitted(product_id="p1", rating=0)),
        "review_submitted.rating",
        ("1 to 5",),
    ),
    "review_rating_6": Bad(
        lambda: h.event(review_submitted=ev.ReviewSubmitted(product_id="p1", rating=6)),
        "review_submitted.rating",
        ("1 to 5",),
    ),
    "review_without_product": Bad(
        lambda: h.event(review_submitted=ev.ReviewSubmitted(rating=4)), "review_submitted.product_id", ("required",)
    ),
    "cart_quantity_0": Bad(
        lambda: h.event(cart_item_added=ev.CartItemAdded(product_id="p1", quantity=0)),
        "cart_item_added.quantity",
        ("at least 1",),
    ),
    "cart_without_product": Bad(
        lambda: h.event(cart_item_added=ev.CartItemAdded(quantity=1)), "cart_item_added.product_id", ("required",)
    ),
    "empty_search_query": Bad(lambda: h.event(searched=ev.Searched(query="  ")), "searched.query", ("required",)),
    # orders and money
    "order_without_items": Bad(lambda: order(items=[]), "order_completed.items", ("at least one line item",)),
    "order_without_revenue": Bad(lambda: order(revenue=None), "order_completed.revenue", ("required",)),
    "order_line_quantity_0": Bad(
        lambda: order(items=[ev.LineItem(product_id="p1", quantity=0, unit_price=eur(1))]),
        "order_completed.items[0].quantity",
        ("at least 1",),
    ),
    "order_line_without_price": Bad(
        lambda: order(items=[ev.LineItem(product_id="p1", quantity=1)]),
        "order_completed.items[0].unit_price",
        ("required",),
    ),
    "bad_currency_code": Bad(
        lambda: order(revenue=eur(10, currency="eur")), "order_completed.revenue.currency_code", ("ISO 4217",)
    ),
    "negative_money": Bad(lambda: order(revenue=eur(-5)), "order_completed.revenue", ("negative",)),
    "money_nanos_of_the_wrong_sign": Bad(
        lambda: order(revenue=eur(5, -500)), "order_completed.revenue.nanos", ("same sign",)
    ),
    "refund_of_zero": Bad(
        lambda: h.event(order_refunded=ev.OrderRefunded(order_id="o-1", amount=Money(currency_code="EUR"))),
        "order_refunded.amount",
        ("greater than zero",),
    ),
    # traits (an unreadable email or phone is dropped, not rejected: test_lenient_fields.py)
    "birth_year_1800": Bad(
        lambda: h.event(identified=ev.Identified(traits=ev.Traits(birth_year=1800))),
        "identified.traits.birth_year",
        ("1900",),
    ),
    "country_not_iso": Bad(
        lambda: h.event(identified=ev.Identified(traits=ev.Traits(country="France"))),
        "identified.traits.country",
        ("ISO 3166-1",),
    ),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
async def test_bad_event_is_rejected_with_a_violation_naming_the_field(
    case: Bad, api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    sent = case.build()
    result = await h.batch(api, write_key, [sent])

    (outcome,) = result.outcomes
    assert (outcome.status, outcome.event_id) == (pb.EVENT_STATUS_REJECTED, sent.event_id)
    violations = h.violations_of(outcome)
    assert case.field in violations, violations
    for words in case.says:
        assert words in violations[case.field]


async def test_free_text_takes_any_length_its_event_allows_and_any_character_but_nul(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    """Free text (a page, a user agent, a review) is stored as it is: nothing keys by it, and
    PostgreSQL, the JSON logs and protobuf carry every character but NUL."""
    controls = "".join(map(chr, [*range(1, 32), *range(0x7F, 0xA0)]))
    sent = with_context(user_agent=controls, page=ev.Page(url="https://x/" + "a" * 20_000, title=f"t{controls}"))

    result = await h.batch(api, write_key, [sent])

    assert result.outcomes[0].status == pb.EVENT_STATUS_ACCEPTED, result.outcomes[0].violations


async def test_every_violation_of_an_event_is_reported_not_just_the_first(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    sent = order(items=[], revenue=eur(-1))
    sent.event_id = "bad"
    sent.identifiers.Clear()
    sent.context.channel = 77
    result = await h.batch(api, write_key, [sent])

    fields = set(h.violations_of(result.outcomes[0]))
    expected = {"event_id", "identifiers", "context.channel", "order_completed.items", "order_completed.revenue"}
    assert expected <= fields


GOOD: dict[str, ev.Event] = {
    "page_viewed": ev.Event(page_viewed=ev.PageViewed(name="home")),
    "product_viewed": ev.Event(product_viewed=ev.ProductViewed(product_id="p1", price=eur(20))),
    "searched": ev.Event(searched=ev.Searched(query="red boots", results_count=3)),
    "cart_item_added": ev.Event(cart_item_added=ev.CartItemAdded(product_id="p1", quantity=2, price=eur(9))),
    "cart_item_removed": ev.Event(cart_item_removed=ev.CartItemRemoved(product_id="p1", quantity=0)),
    "wishlist_item_added": ev.Event(wishlist_item_added=ev.WishlistItemAdded(product_id="p1")),
    "checkout_started": ev.Event(checkout_started=ev.CheckoutStarted(cart_id="c1", value=eur(18), items_count=2)),
    "order_completed": ev.Event(
        order_completed=ev.OrderCompleted(
            order_id="o-1",
            items=[ev.LineItem(product_id="p1", quantity=2, unit_price=eur(5))],
            revenue=eur(8, 500_000_000),
            discount=eur(1, 500_000_000),
        )
    ),
    "order_refunded": ev.Event(order_refunded=ev.OrderRefunded(order_id="o-1", amount=eur(0, 10))),
    "review_submitted": ev.Event(review_submitted=ev.ReviewSubmitted(product_id="p1", rating=5, text="great")),
    "signed_up": ev.Event(signed_up=ev.SignedUp(personal=ev.PersonalData(email="a@example.com"))),
    "logged_in": ev.Event(logged_in=ev.LoggedIn(method="password")),
    "logged_out": ev.Event(logged_out=ev.LoggedOut()),
    "identified": ev.Event(identified=ev.Identified(traits=ev.Traits(birth_year=1990, country="FR"))),
    "consent_changed": ev.Event(consent_changed=ev.ConsentChanged(purpose=MARKETING, channel=EMAIL, granted=True)),
    "message_interacted": ev.Event(
        message_interacted=ev.MessageInteracted(message_id="m1", interaction=ev.MESSAGE_INTERACTION_OPENED)
    ),
}


def test_the_valid_examples_cover_every_payload_kind() -> None:
    kinds = {f.name for f in ev.Event.DESCRIPTOR.oneofs_by_name["payload"].fields}
    assert set(GOOD) == kinds


@pytest.mark.parametrize("kind", GOOD.keys())
async def test_valid_event_of_every_payload_kind_is_accepted(
    kind: str, api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    sent = h.event()
    sent.MergeFrom(GOOD[kind])
    sent.context.CopyFrom(ev.Context(channel=ev.CHANNEL_WEB, ip="198.51.100.7", locale="en-US", timezone="UTC"))
    result = await h.batch(api, write_key, [sent])

    assert result.outcomes[0].status == pb.EVENT_STATUS_ACCEPTED, result.outcomes[0].violations
