"""Weighted implicit feedback: what a person did with an item, folded into a `History`.

A purchase says more than a view; a refund or a bad review says the opposite. The net
weight of an item is the sum of its signals' weights, and its place in the order is its
latest touch. Items whose signals cancel out leave the history; items left negative stay,
so that things like them are pushed down (the model is linear in the weights).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from bullseye_recommendation.domain.history import History


class Signal(enum.Enum):
    VIEW = "view"
    WISHLIST = "wishlist"
    CART = "cart"
    PURCHASE = "purchase"
    REFUND = "refund"
    BAD_REVIEW = "bad_review"


@dataclass(frozen=True, kw_only=True)
class FeedbackWeights:
    """Weight per signal. Defaults keep view < wishlist < cart < purchase; a refund takes back
    a purchase, a bad review more than a view gave."""

    view: float = 1.0
    wishlist: float = 2.0
    cart: float = 3.0
    purchase: float = 5.0
    refund: float = -5.0
    bad_review: float = -3.0

    def __post_init__(self) -> None:
        if not 0 < self.view <= self.wishlist <= self.cart <= self.purchase:
            raise ValueError("feedback weights must keep 0 < view <= wishlist <= cart <= purchase")
        if self.refund > 0 or self.bad_review > 0:
            raise ValueError("refund and bad_review weights subtract: they must be <= 0")

    def of(self, signal: Signal) -> float:
        weight: float = getattr(self, signal.value)
        return weight

    @classmethod
    def from_env(cls, raw: str) -> FeedbackWeights:
        """`view=1,wishlist=2,cart=3,purchase=5,refund=-5,bad_review=-3`; signals left out keep
        their defaults.

        Raises:
            ValueError: an unknown signal, a value that is not a number, or weights out of order.
        """
        given: dict[str, float] = {}
        for part in (p.strip() for p in raw.split(",") if p.strip()):
            name, sep, value = part.partition("=")
            if not sep or name.strip() not in _NAMES:
                raise ValueError(f"{part!r}: expected <signal>=<weight>, signals {', '.join(sorted(_NAMES))}")
            given[name.strip()] = float(value)
        return cls(**given)

    def __repr__(self) -> str:
        """As the variable is written (`config` lists it so)."""
        return ",".join(f"{signal.value}={self.of(signal):g}" for signal in Signal)


_NAMES = frozenset(signal.value for signal in Signal)


def fold(signals: Iterable[tuple[int, Signal]], weights: FeedbackWeights) -> History:
    """(item index, signal) pairs in time order -> one entry per item, most recent first."""
    net: dict[int, float] = {}
    for item, signal in signals:
        net[item] = net.pop(item, 0.0) + weights.of(signal)  # re-inserting moves the item to the end
    latest_first = [(item, weight) for item, weight in reversed(net.items()) if weight != 0]
    return History.of([i for i, _ in latest_first], weights=[w for _, w in latest_first])
