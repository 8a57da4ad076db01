"""Shared mailboxes: a company's `orders@`, a family's address, a role address handed over.

Colleagues order for the office from their own work laptops with the company's `orders@`
address; two partners shop from their own phones with the family's address. Each first
checks out as a guest with the shared address, and later logs in on the same device with
their own account and confirms the address on it. A buyer used a role address months ago;
their successor uses it now, and is a different person.

Today the second person's device attaches to the address's first owner through the guest
checkout, and their own login there is refused (one user id per person).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from bullseye_devtools.traffic.devices import Device
from bullseye_devtools.traffic.realistic.scene import Scene, groups, guest_checkout
from bullseye_devtools.traffic.traps import Actor, logged_in_visit, new_device, tell

KINDS = (("company", 3), ("family", 2), ("role", 2))  # (kind, persons sharing an address)
HANDED_OVER_EVERY = timedelta(days=20)  # a role address's successive holders, before today's


def shared_mailboxes(cast: list[Actor], scene: Scene) -> None:
    sizes = itertools.cycle(size for _, size in KINDS)
    for number, group in enumerate(groups(cast, sizes, smallest=2)):
        kind = KINDS[number % len(KINDS)][0]
        address = _address(kind, number)
        if kind == "role":
            hand_over(group, address, scene)
            continue
        for actor in group:
            at = scene.window.moment(actor.rng, 0.0, 0.6)
            device = new_device(actor, "web-desktop" if kind == "company" else "web-mobile")
            claim(actor, device, address, at, scene.later(actor.rng, at))


def _address(kind: str, number: int) -> str:
    if kind == "family":
        return f"the-family-{number}@example.com"
    return f"{'orders' if kind == 'company' else 'buyer'}@company-{number}.example"


def claim(actor: Actor, device: Device, address: str, at: datetime, then: datetime) -> None:
    """A guest checkout with the shared address; at `then`, on the same device, the person's
    own login, and the address confirmed on their account."""
    guest_checkout(actor, device, at, email=address)
    visit = logged_in_visit(actor, device, then)
    tell(actor, visit, email=address)


def hand_over(holders: list[Actor], address: str, scene: Scene) -> None:
    """The role address passes from holder to holder, months ago; the last holds it today."""
    for number, actor in enumerate(holders):
        rng, device = actor.rng, new_device(actor, "web-desktop")
        if actor is holders[-1]:
            at = scene.window.moment(rng, 0.0, 0.6)
            claim(actor, device, address, at, scene.later(rng, at))
        else:
            at = scene.window.long_ago(rng) + number * HANDED_OVER_EVERY
            claim(actor, device, address, at, at + timedelta(hours=rng.uniform(1, 48)))
