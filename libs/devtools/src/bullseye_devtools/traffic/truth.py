"""The ground truth of a generated stream, counted from the events themselves.

Counting from the events (not from the generator's intentions) means the same summary can
check any stream: what was sent, what a consumer projected, what a replay rebuilt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.traffic.money import cents

FUNNEL = (
    ("visits", ""),
    ("viewed a product", "product_viewed"),
    ("added to cart", "cart_item_added"),
    ("started checkout", "checkout_started"),
    ("ordered", "order_completed"),
)


@dataclass
class GroundTruth:
    events: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    sessions_with: Counter[str] = field(default_factory=Counter)  # payload type -> sessions having it
    sessions: int = 0
    devices: int = 0
    users: int = 0
    revenue_cents: int = 0
    refunded_cents: int = 0

    @property
    def add_to_cart_rate(self) -> float:
        """Add-to-cart events per product view."""
        return _ratio(self.by_type["cart_item_added"], self.by_type["product_viewed"])

    @property
    def conversion_rate(self) -> float:
        """Share of visits (sessions) with an order."""
        return _ratio(self.sessions_with["order_completed"], self.sessions)

    @property
    def refund_rate(self) -> float:
        return _ratio(self.by_type["order_refunded"], self.by_type["order_completed"])

    @property
    def average_order_cents(self) -> int:
        return round(_ratio(self.revenue_cents, self.by_type["order_completed"]))

    def funnel(self) -> list[tuple[str, int]]:
        """Sessions reaching each step, from all visits down to an order."""
        return [(label, self.sessions_with[kind] if kind else self.sessions) for label, kind in FUNNEL]


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def summarize(events: Iterable[ev.Event]) -> GroundTruth:
    """Counts, funnel, revenue and refunds of `events`."""
    truth = GroundTruth()
    sessions: dict[str, set[str]] = {}
    devices: set[str] = set()
    users: set[str] = set()
    for event in events:
        kind = event.WhichOneof("payload") or "unknown"
        truth.events += 1
        truth.by_type[kind] += 1
        if event.context.session_id and kind not in ("order_refunded", "review_submitted"):
            sessions.setdefault(event.context.session_id, set()).add(kind)
        devices.add(event.identifiers.anonymous_id)
        users.add(event.identifiers.user_id)
        if kind == "order_completed":
            truth.revenue_cents += cents(event.order_completed.revenue)
        elif kind == "order_refunded":
            truth.refunded_cents += cents(event.order_refunded.amount)
    truth.sessions = len(sessions)
    truth.sessions_with = Counter(kind for kinds in sessions.values() for kind in kinds)
    truth.devices = len(devices - {""})
    truth.users = len(users - {""})
    return truth
