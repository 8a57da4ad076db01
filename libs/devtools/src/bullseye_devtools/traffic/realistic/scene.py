"""What the realistic situations share: the scene they play in, casting, a guest checkout."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.traffic import funnel
from bullseye_devtools.traffic.devices import Device
from bullseye_devtools.traffic.envelope import Visit
from bullseye_devtools.traffic.traps import Actor, Window, anonymous_visit, tell

ROOM = timedelta(hours=3)  # a visit started before `end - ROOM` is over by `end`


@dataclass(frozen=True)
class Scene:
    """Where one situation plays: the traps' window, the situation's own draws (who goes with
    whom, independent of the actors' own), and `late`, shared by every situation: when the
    events that do not arrive as they happen reach ingestion."""

    window: Window
    rng: random.Random
    late: dict[str, datetime]

    def deliver(self, events: Iterable[ev.Event], at: datetime) -> None:
        """These events reach ingestion at `at`, whenever they happened."""
        self.late.update(dict.fromkeys((event.event_id for event in events), at))

    def later(self, rng: random.Random, than: datetime) -> datetime:
        """A moment at least an hour after `than`, leaving room for a visit before the end."""
        low, high = than + timedelta(hours=1), self.window.end - ROOM
        return low + max(high - low, timedelta(0)) * rng.random()


def groups(cast: list[Actor], sizes: Iterable[int], *, smallest: int = 1) -> list[list[Actor]]:
    """`cast` cut into consecutive groups of the drawn sizes; when the next size cannot be
    filled, the rest is a group of its own if it has `smallest` persons, else joins the last."""
    made: list[list[Actor]] = []
    at = 0
    for size in sizes:
        if at + size > len(cast):
            break
        made.append(cast[at : at + size])
        at += size
    rest = cast[at:]
    if len(rest) >= smallest or not made:
        made.append(rest)
    else:
        made[-1] += rest
    return [group for group in made if group]


def guest_checkout(actor: Actor, device: Device, at: datetime, *, email: str = "", phone: str = "") -> Visit:
    """Logged out on `device`: a few product views, a guest checkout's contact form, an order."""
    visit = anonymous_visit(actor, device, at, views=actor.rng.randint(1, 3))
    visit.wait(actor.rng, 20, 120)
    visit.show("/checkout", "Checkout")
    tell(actor, visit, email=email, phone=phone)
    product = actor.state.catalog.pick(actor.rng, actor.shopper.favourite_leaves)
    funnel.place_order(actor.state, visit, ((product, 1),))
    return visit
