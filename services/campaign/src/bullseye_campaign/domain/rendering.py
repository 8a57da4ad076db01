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

from bullseye_campaign.domain.templates import RenderError, Templates

_FIELDS = ("subject", "title", "body", "url")


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
