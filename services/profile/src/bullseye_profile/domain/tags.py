"""Tags: declarative rules over the Profile message, in four families.

Each rule has a name, a family, a version (bump it when the definition changes: tags on
profiles carry it) and a predicate on the profile plus population figures. Rules read only
the Profile message, so what a tag means is visible in the same terms segments use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bullseye.profile.v1 import profile_pb2 as pb

F = pb.TagFamily
# Event types that count as an interaction for `high_activity`.
INTERACTIONS = (
    "page_viewed", "product_viewed", "searched", "cart_item_added", "wishlist_item_added",
    "checkout_started", "order_completed", "review_submitted",
)  # fmt: skip


@dataclass(frozen=True)
class Population:
    """Figures over everyone, from the last RFM computation."""

    # revenue_90d at the 80th percentile of persons with 90-day revenue (None: not computed).
    high_value_threshold: float | None = None


@dataclass(frozen=True)
class TagRule:
    name: str
    family: pb.TagFamily.ValueType
    version: int
    description: str
    holds: Callable[[pb.Profile, Population], bool]


def interactions(counts: pb.EventCounts) -> int:
    return sum(getattr(counts, name) for name in INTERACTIONS)


def _marketing_reachable(p: pb.Profile, _: Population) -> bool:
    m = p.consent.marketing
    return any(state.granted for state in (m.email, m.sms, m.push, m.in_app))


def _price_sensitive(p: pb.Profile, _: Population) -> bool:
    v = p.value
    discount_share = v.discounted_orders / v.orders if v.orders else 0.0
    return discount_share >= 0.5 or p.behaviour.price_band == pb.PRICE_BAND_LOW


def _high_value(p: pb.Profile, pop: Population) -> bool:
    threshold = pop.high_value_threshold
    return threshold is not None and p.value.revenue_90d > 0 and p.value.revenue_90d >= threshold


RULES: tuple[TagRule, ...] = (
    TagRule("registered", F.TAG_FAMILY_BASIC, 1, "signed up or logged in at least once",
            lambda p, _: p.behaviour.counts_lifetime.signed_up + p.behaviour.counts_lifetime.logged_in > 0),
    TagRule("mobile_user", F.TAG_FAMILY_BASIC, 1, "last device is a mobile or a tablet",
            lambda p, _: p.behaviour.last_device_type in ("mobile", "tablet")),
    TagRule("marketing_reachable", F.TAG_FAMILY_BASIC, 1, "marketing consent granted on some channel",
            _marketing_reachable),
    TagRule("high_activity", F.TAG_FAMILY_BEHAVIOUR, 1, "at least 3 interactions in the last 7 days",
            lambda p, _: interactions(p.behaviour.counts_7d) >= 3),
    TagRule("night_owl", F.TAG_FAMILY_BEHAVIOUR, 1, "most activity between 22:00 and 06:00 local time",
            lambda p, _: p.behaviour.active_hours.night_share > 0.5),
    TagRule("cart_abandoner", F.TAG_FAMILY_BEHAVIOUR, 1, "left a cart without ordering",
            lambda p, _: p.behaviour.cart_abandoned),
    TagRule("price_sensitive", F.TAG_FAMILY_PREFERENCE, 1, "half the orders discounted, or a low price band",
            _price_sensitive),
    TagRule("premium_taste", F.TAG_FAMILY_PREFERENCE, 1, "buys (else views) in the premium price band",
            lambda p, _: p.behaviour.price_band == pb.PRICE_BAND_PREMIUM),
    TagRule("high_value", F.TAG_FAMILY_VALUE, 1, "top 20% by 90-day revenue", _high_value),
    TagRule("repeat_buyer", F.TAG_FAMILY_VALUE, 1, "at least 2 completed orders",
            lambda p, _: p.value.orders >= 2),
)  # fmt: skip


def tags_for(profile: pb.Profile, population: Population) -> list[pb.Tag]:
    """The tags whose rule holds for `profile`, in rule order."""
    return [
        pb.Tag(name=rule.name, family=rule.family, version=rule.version)
        for rule in RULES
        if rule.holds(profile, population)
    ]
