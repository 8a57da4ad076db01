"""Households whose family app issues a new anonymous id at each logout.

One app install (one device id) on the family tablet, used by two to four members in turn.
A turn starts logged out, on the anonymous id the last logout left: the member browses, logs
in with their own account, browses, logs out, and the app issues a fresh anonymous id for
whoever comes next. Now and then a member browses and leaves without logging in (a child):
nobody logs out, so the next member carries on with the same anonymous id.

Today the fresh anonymous id attaches to the device id's first owner, and the next member's
login on it is refused (one user id per person): their logged-out browsing stays glued to
the first owner. From the second hand-over on, the device id is already in a conflict.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

from bullseye_devtools.traffic import identity
from bullseye_devtools.traffic.devices import Device
from bullseye_devtools.traffic.envelope import Visit
from bullseye_devtools.traffic.realistic.scene import Scene, groups
from bullseye_devtools.traffic.seeds import uuid_from
from bullseye_devtools.traffic.traps import Actor, anonymous_visit, browse, new_device

SIZES, WEIGHTS = (2, 3, 4), (55, 30, 15)
ROUNDS = 2  # turns per member
LOG_IN = 0.85  # a turn without login keeps the anonymous id for the next member
PAUSE = timedelta(minutes=10)  # at least this long between two turns


def households(cast: list[Actor], scene: Scene) -> None:
    for members in groups(cast, _sizes(scene.rng), smallest=2):
        family_app(members, scene)


def _sizes(rng: random.Random) -> Iterator[int]:
    while True:
        yield rng.choices(SIZES, weights=WEIGHTS)[0]


def family_app(members: list[Actor], scene: Scene) -> None:
    """The members' turns on one app install, spread over the live period, first owner first."""
    rng = scene.rng
    device = new_device(members[0], "android-app", shared=True)
    order = turns(members, rng)
    moments = sorted(scene.window.moment(rng, 0.0, 0.9) for _ in order)
    ready = moments[0]
    for actor, at in zip(order, moments, strict=True):
        device, visit = turn(actor, device, max(at, ready))
        ready = visit.at + PAUSE


def turns(members: list[Actor], rng: random.Random) -> list[Actor]:
    """Every member `ROUNDS` times, the first owner first, never the same member twice in a row."""
    order = list(members)
    for _ in range(ROUNDS - 1):
        shuffled = rng.sample(members, len(members))
        if shuffled[0] is order[-1]:
            shuffled = shuffled[1:] + shuffled[:1]
        order += shuffled
    return order


def turn(actor: Actor, device: Device, at: datetime) -> tuple[Device, Visit]:
    """One member's turn; the device as the next member finds it (a fresh anonymous id after
    a logout), and the visit (to know when it ended)."""
    rng = actor.rng
    visit = anonymous_visit(actor, device, at, views=rng.randint(1, 3))
    if rng.random() >= LOG_IN:
        return device, visit
    identity.log_in(actor.state, actor.shopper, visit)
    browse(actor, visit, rng.randint(1, 3))
    identity.log_out(actor.state, visit)
    return replace(device, anonymous_id=uuid_from(rng)), visit
