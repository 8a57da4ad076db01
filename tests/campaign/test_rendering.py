"""A channel's message rendered for one person, whole or not at all."""

from __future__ import annotations

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye_campaign.domain.rendering import Occasion, Recipient, context, render
from bullseye_campaign.domain.templates import VARIABLES, TemplateLimits, Templates

ANN = Recipient(person_id="p-1", traits={"first_name": "Ann"}, tags=["night_owl"],
                items=[{"title": "Chef knife", "url": "https://shop.example/knife"}])  # fmt: skip
OCCASION = Occasion(campaign_id="spring", campaign_name="Spring sale", variant_id="b", message_id="m-1",
                    trigger={"product_id": "knife"})  # fmt: skip
EMAIL = cpb.Content(
    channel=cpb.CHANNEL_EMAIL,
    subject="{{ traits.first_name }}, still thinking about it?",
    body="{{ items[0].title }} ({{ campaign.variant_id }}, {{ trigger.product_id }}, {{ message_id }})",
    url="{{ items[0].url }}?m={{ message_id }}",
)


def test_every_field_is_rendered_with_the_person_and_the_occasion() -> None:
    message = render(Templates(), EMAIL, context(ANN, OCCASION))
    assert (message.subject, message.body, message.url, message.error) == (
        "Ann, still thinking about it?",
        "Chef knife (b, knife, m-1)",
        "https://shop.example/knife?m=m-1",
        "",
    )


def test_a_field_that_fails_fails_the_whole_message() -> None:
    long_name = Recipient(person_id="p-2", traits={"first_name": "A" * 50})
    message = render(Templates(TemplateLimits(max_output=40)), EMAIL, context(long_name, OCCASION))
    assert (message.subject, message.body) == ("", "")
    assert message.error.startswith("subject: line 1, column 1: output stream limit reached")


def test_templates_see_exactly_the_documented_variables() -> None:
    assert context(ANN, OCCASION).keys() == VARIABLES


def test_a_trigger_is_the_events_payload_with_money_as_its_amount() -> None:
    from bullseye.events.v1 import event_pb2 as ev
    from bullseye_campaign.domain.rendering import trigger_fields
    from google.type import money_pb2

    order = ev.OrderCompleted(
        order_id="o-1", revenue=money_pb2.Money(currency_code="EUR", units=120, nanos=500_000_000),
        items=[ev.LineItem(product_id="p-1", quantity=2)],
    )  # fmt: skip

    assert trigger_fields(order) == {
        "order_id": "o-1", "revenue": 120.5, "revenue_currency": "EUR", "items": [{"product_id": "p-1", "quantity": 2}]
    }  # fmt: skip
