"""Rendering messages for persons at handoff (and for Preview): fetch what the templates read, render.

Only what a variant's templates name is fetched: traits and tags from profile (BatchGetProfiles,
100 a call), items from recommendation (Recommend, one call per person), the first name from the
contacts identity gave for the handoff. Templates are compiled once per source, and a content
that reads nothing of the person (only `campaign` and `trigger`) is rendered once per arm and
trigger in a batch: a broadcast's 500 identical messages are one render. A message that fails
to render fails alone (its RenderedMessage carries the error).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.profile.v1 import profile_pb2
from bullseye_platform.grpc.errors import FailedPrecondition

from bullseye_campaign.adapters.identity_client import Contacts
from bullseye_campaign.adapters.profile_client import ProfileClient
from bullseye_campaign.adapters.recommendation_client import RecommendationClient
from bullseye_campaign.domain import names
from bullseye_campaign.domain.rendering import Occasion, Recipient, context, render
from bullseye_campaign.domain.templates import Templates

PROFILE_NAMES = frozenset({"traits", "tags"})
FIELDS = ("subject", "title", "body", "url")
SHARED = frozenset({"campaign", "trigger"})  # the same for every person of an arm and a trigger


@dataclass(frozen=True)
class Wanted:
    """One message to render: whose, which campaign's arm and channel, why."""

    message_id: str
    person_id: str
    campaign: cpb.Campaign
    arm: str
    channel: int
    trigger: Mapping[str, object] = field(default_factory=dict)


def content_of(campaign: cpb.Campaign, arm: str, channel: int) -> cpb.Content | None:
    variant = next((v for v in campaign.variants if v.variant_id == arm), None)
    return next((c for c in variant.contents if c.channel == channel), None) if variant else None


class Personalizer:
    def __init__(
        self, *, templates: Templates, profile: ProfileClient, recommendation: RecommendationClient | None
    ) -> None:
        self._templates, self._profile, self._recommendation = templates, profile, recommendation
        self._names = functools.lru_cache(maxsize=4096)(templates.names)

    def names(self, content: cpb.Content) -> frozenset[str]:
        """Every variable the content's templates read."""
        return frozenset().union(*(self._names(getattr(content, f)) for f in FIELDS if getattr(content, f)))

    def reads_traits(self, campaign: cpb.Campaign, arm: str, channel: int) -> bool:
        """Whether the message reads `traits` (the first name comes with the contacts' addresses)."""
        content = content_of(campaign, arm, channel)
        return content is not None and "traits" in self.names(content)

    def uses_items(self, campaign: cpb.Campaign) -> bool:
        return any("items" in self.names(c) for v in campaign.variants for c in v.contents)

    async def render_many(
        self, wanted: Sequence[Wanted], contacts: Mapping[str, Contacts]
    ) -> dict[str, apb.RenderedMessage]:
        """message id -> the rendered message (or its error).

        Raises:
            Unavailable, FailedPrecondition: profile or recommendation did not answer, or is not set up.
        """
        contents = {w.message_id: content_of(w.campaign, w.arm, w.channel) for w in wanted}
        reads = {m: self.names(c) if c else frozenset() for m, c in contents.items()}
        profiled = sorted({w.person_id for w in wanted if reads[w.message_id] & PROFILE_NAMES})
        profiles = await self._profile.profiles(profiled) if profiled else {}
        items = await self._items([w for w in wanted if "items" in reads[w.message_id]])
        rendered: dict[str, apb.RenderedMessage] = {}
        alike: dict[tuple[object, ...], apb.RenderedMessage] = {}  # shared renders (read-only messages)
        for w in wanted:
            content = contents[w.message_id]
            if content is None:
                missing = apb.RenderedMessage(channel=w.channel, error="no content for this channel")  # type: ignore[arg-type]
                rendered[w.message_id] = missing
                continue
            same = _alike(w) if reads[w.message_id] <= SHARED else None
            if same is not None and same in alike:
                rendered[w.message_id] = alike[same]
                continue
            recipient = _recipient(w.person_id, contacts.get(w.person_id), profiles.get(w.person_id),
                                   items.get(w.message_id, ()))  # fmt: skip
            occasion = Occasion(campaign_id=w.campaign.campaign_id, campaign_name=w.campaign.name, variant_id=w.arm,
                                message_id=w.message_id, trigger=w.trigger)  # fmt: skip
            rendered[w.message_id] = render(self._templates, content, context(recipient, occasion))
            if same is not None:
                alike[same] = rendered[w.message_id]
        return rendered

    async def _items(self, wanted: Sequence[Wanted]) -> dict[str, list[dict[str, object]]]:
        if not wanted:
            return {}
        if self._recommendation is None:
            raise FailedPrecondition("templates use items but CAMPAIGN_RECOMMENDATION_ADDRESS is not set")
        found = await asyncio.gather(
            *(self._recommendation.items(w.person_id, channel=names.channel(w.channel)) for w in wanted)
        )
        return {w.message_id: items for w, items in zip(wanted, found, strict=True)}


def _alike(w: Wanted) -> tuple[object, ...]:
    """What a content that reads only `campaign` and `trigger` renders from."""
    return w.campaign.campaign_id, w.campaign.version, w.arm, w.channel, json.dumps(w.trigger, sort_keys=True)


def _recipient(
    person_id: str,
    contacts: Contacts | None,
    profile: profile_pb2.Profile | None,
    items: Sequence[Mapping[str, object]],
) -> Recipient:
    traits: dict[str, object] = {"first_name": contacts.first_name if contacts else ""}
    if profile is not None:
        t = profile.traits
        traits.update(gender=t.gender, age_band=t.age_band, city=t.city, country=t.country,
                      membership_tier=t.membership_tier, custom=dict(t.custom))  # fmt: skip
    tags = [tag.name for tag in profile.tags] if profile is not None else []
    return Recipient(person_id=person_id, traits=traits, tags=tags, items=items)
