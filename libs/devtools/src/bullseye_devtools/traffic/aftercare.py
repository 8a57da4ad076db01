"""What follows an order days later: reviews and refunds, on the device that ordered."""

from __future__ import annotations

from datetime import timedelta

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.traffic.envelope import Visit, open_visit
from bullseye_devtools.traffic.money import eur
from bullseye_devtools.traffic.state import JourneyState, Order

REVIEW = 0.15
REFUND = 0.045
REASONS = ("damaged", "wrong size", "not as described", "changed my mind", "late delivery")
REVIEWS = {
    5: ("Excellent, exactly as described.", "Love it!", "Great quality for the price."),
    4: ("Very good, fast delivery.", "Nice, but the colour is slightly different.", ""),
    3: ("Okay for the price.", "Does the job.", ""),
    2: ("Disappointed by the finish.", "Smaller than expected."),
    1: ("Broke after two days.", "Would not buy again."),
}


def _later(state: JourneyState, order: Order, share: float) -> Visit | None:
    """A time `share` of the way from the order to the end of the period; None if too close."""
    room = (state.end - order.at).total_seconds()
    if room < 600:
        return None
    at = order.at + timedelta(seconds=max(300.0, room * share))
    return open_visit(state.rng, order.device, min(at, state.end), user_id=order.user_id, phone=order.phone)


def review(state: JourneyState, order: Order) -> None:
    """A rating of one line, skewed to 4-5 stars like real shops."""
    visit = _later(state, order, state.rng.uniform(0.3, 1.0))
    if visit is None:
        return
    product, _ = state.rng.choice(order.lines)
    rating = state.rng.choices((5, 4, 3, 2, 1), weights=(50, 25, 12, 7, 6))[0]
    visit.show(f"/p/{product.item_id}-{product.slug}/review", f"Review {product.title}")
    text = state.rng.choice(REVIEWS[rating])
    state.emit(visit, ev.ReviewSubmitted(product_id=product.item_id, rating=rating, text=text))


def refund(state: JourneyState, order: Order) -> None:
    """All of the order or one of its lines comes back."""
    visit = _later(state, order, state.rng.uniform(0.1, 1.0))
    if visit is None:
        return
    if len(order.lines) > 1 and state.rng.random() < 0.4:
        product, quantity = state.rng.choice(order.lines)
        amount = product.price_cents * quantity
    else:
        amount = order.total_cents
    visit.show("/account/orders", "Your orders")
    state.emit(visit, ev.OrderRefunded(order_id=order.order_id, amount=eur(amount), reason=state.rng.choice(REASONS)))


def follow_up(state: JourneyState) -> None:
    for order in list(state.orders):
        if state.rng.random() < REVIEW and order.device.anonymous_id:  # not from a store till
            review(state, order)
        if state.rng.random() < REFUND:
            refund(state, order)
