"""One channel's message for one person: every template field rendered with the same data.

The data a template sees is built here, once, with exactly the names documented on
bullseye.campaign.v1.Content (the names `templates.VARIABLES` lets a template read), so Preview and the
sender cannot drift apart. A field that fails to render fails the whole message: a
half-personalized message ("Hi ,") is worse than none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import definition_pb2 as cpb
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from bullseye_campaign.domain.templates import RenderError, Templates

_FIELDS = ("subject", "title", "body", "url")
_MONEY = "google.type.Money"


@dataclass(frozen=True, kw_only=True)
class Recipient:
    """What is known about the person at send time (no personal data beyond the first name)."""

    person_id: str
    traits: Mapping[str, object] = field(default_factory=dict)
    tags: Sequence[str] = ()
    items: Sequence[Mapping[str, object]] = ()  # recommended items, best first


@dataclass(frozen=True, kw_only=True)
class Occasion:
    """Why the message goes out: the campaign, the arm, the message id, the triggering event."""

    campaign_id: str
    campaign_name: str
    variant_id: str
    message_id: str
    trigger: Mapping[str, object] = field(default_factory=dict)


def context(recipient: Recipient, occasion: Occasion) -> dict[str, object]:
    return {
        "person_id": recipient.person_id,
        "traits": dict(recipient.traits),
        "tags": list(recipient.tags),
        "items": [dict(item) for item in recipient.items],
        "campaign": {
            "campaign_id": occasion.campaign_id,
            "name": occasion.campaign_name,
            "variant_id": occasion.variant_id,
        },
        "message_id": occasion.message_id,
        "trigger": dict(occasion.trigger),
    }


def render(templates: Templates, content: cpb.Content, data: Mapping[str, object]) -> apb.RenderedMessage:
    """The rendered message; on failure only `error` is set (with the field and position)."""
    rendered = apb.RenderedMessage(channel=content.channel)
    for name in _FIELDS:
        source: str = getattr(content, name)
        if not source:
            continue
        try:
            setattr(rendered, name, templates.render(templates.compile(source), data))
        except RenderError as error:
            return apb.RenderedMessage(channel=content.channel, error=f"{name}: {error}")
    return rendered


def trigger_fields(payload: Message) -> dict[str, object]:
    """An event payload as a template's `trigger` sees it: fields by name, Money as its amount
    (with `<name>_currency`), enums by value name, lists as lists; unset fields are absent."""
    fields: dict[str, object] = {}
    for descriptor, value in payload.ListFields():
        name = descriptor.name
        if (
            descriptor.message_type is not None
            and descriptor.message_type.full_name == _MONEY
            and not descriptor.is_repeated
        ):
            fields[name] = value.units + value.nanos / 1e9
            fields[f"{name}_currency"] = value.currency_code
        elif descriptor.is_repeated:
            fields[name] = [_value(descriptor, item) for item in value]
        else:
            fields[name] = _value(descriptor, value)
    return fields


def _value(field: FieldDescriptor, value: object) -> object:
    if isinstance(value, Message):
        return trigger_fields(value)
    if field.enum_type is not None:
        return field.enum_type.values_by_number[value].name  # type: ignore[index]
    return value
