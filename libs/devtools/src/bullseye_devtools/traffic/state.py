"""What one shopper's journey has done so far, and where its events go."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from bullseye.events.v1 import event_pb2 as ev
from google.protobuf.message import Message

from bullseye_devtools.traffic.catalog import Catalog, Product
from bullseye_devtools.traffic.devices import Device
from bullseye_devtools.traffic.envelope import Visit, stamp


@dataclass
class Cart:
    cart_id: str
    lines: dict[str, tuple[Product, int]] = field(default_factory=dict)

    @property
    def value_cents(self) -> int:
        return sum(product.price_cents * quantity for product, quantity in self.lines.values())

    @property
    def items(self) -> int:
        return sum(quantity for _, quantity in self.lines.values())


@dataclass(frozen=True)
class Order:
    """A placed order, remembered for the reviews and refunds that follow it."""

    order_id: str
    device: Device
    user_id: str
    at: datetime
    lines: tuple[tuple[Product, int], ...]
    phone: str = ""  # what a till's customer was known by, when not by an account

    @property
    def total_cents(self) -> int:
        return sum(product.price_cents * quantity for product, quantity in self.lines)


@dataclass
class JourneyState:
    """Mutable state of one shopper's journey; `emit` stamps and records an event."""

    rng: random.Random
    catalog: Catalog
    end: datetime
    registered: bool
    events: list[ev.Event] = field(default_factory=list)
    logged_in: set[str] = field(default_factory=set)  # anonymous ids of devices with a live login
    seen: set[str] = field(default_factory=set)  # devices that already answered the consent banner
    orders: list[Order] = field(default_factory=list)

    def emit(self, visit: Visit, payload: Message) -> ev.Event:
        event = stamp(self.rng, visit, payload)
        self.events.append(event)
        return event
