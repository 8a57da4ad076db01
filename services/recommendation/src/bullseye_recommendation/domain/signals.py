"""What one shopper event tells the recommender: item signals, interests, attribution.

- Item signals (feedback.py): a product view, a wishlist add, a cart add, each line of an
  order, a review of BAD_RATING or less. A refund names its order only; the projection gives
  it the items that order bought (projections/interactions.py).
- Interests: the categories a person browsed (category pages and product pages), which
  place a new person's cold start among popular items "in their interest".
- Attribution: an event carrying `Attribution.recommendation_id` ties a click (a view, cart
  or wishlist add) or an order to the impression that led to it (the experiment report).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bullseye.events.v1 import event_pb2 as ev

from bullseye_recommendation.domain.feedback import Signal

BAD_RATING = 2  # 1-5 stars: a review of 2 or less says "not this, nor things like it"
Outcome = Literal["click", "order"]


@dataclass(frozen=True, slots=True)
class ItemSignal:
    item_id: str
    signal: Signal
    order_id: str = ""  # the order a purchase belongs to (a refund finds its items by it)


def item_signals(event: ev.Event) -> list[ItemSignal]:
    """The item signals of `event` (none for events about no product)."""
    kind = event.WhichOneof("payload")
    if kind == "product_viewed":
        return _one(event.product_viewed.product_id, Signal.VIEW)
    if kind == "wishlist_item_added":
        return _one(event.wishlist_item_added.product_id, Signal.WISHLIST)
    if kind == "cart_item_added":
        return _one(event.cart_item_added.product_id, Signal.CART)
    if kind == "review_submitted" and 0 < event.review_submitted.rating <= BAD_RATING:
        return _one(event.review_submitted.product_id, Signal.BAD_REVIEW)
    if kind == "order_completed":
        order = event.order_completed
        bought = dict.fromkeys(line.product_id for line in order.items if line.product_id)  # a line per item, once
        return [ItemSignal(item, Signal.PURCHASE, order.order_id) for item in bought]
    return []


def refunded_order(event: ev.Event) -> str:
    """The order a refund event takes back ('' for any other event)."""
    return event.order_refunded.order_id if event.WhichOneof("payload") == "order_refunded" else ""


def interests(event: ev.Event) -> list[str]:
    """Categories the event shows interest in (leaf names or paths, as events carry them)."""
    kind = event.WhichOneof("payload")
    if kind == "page_viewed":
        return [event.page_viewed.category] if event.page_viewed.category else []
    if kind == "product_viewed":
        return [event.product_viewed.category] if event.product_viewed.category else []
    return []


def attribution(event: ev.Event) -> tuple[str, Outcome] | None:
    """(recommendation id, click or order) when a shown recommendation led to this event."""
    recommendation = event.context.attribution.recommendation_id
    kind = event.WhichOneof("payload")
    if not recommendation:
        return None
    if kind == "order_completed":
        return recommendation, "order"
    if kind in ("product_viewed", "cart_item_added", "wishlist_item_added"):
        return recommendation, "click"
    return None


def _one(item_id: str, signal: Signal) -> list[ItemSignal]:
    return [ItemSignal(item_id, signal)] if item_id else []
