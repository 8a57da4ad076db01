"""One shopper's whole period: visits on their devices, store trips, then reviews and refunds."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.traffic import funnel, identity
from bullseye_devtools.traffic.aftercare import follow_up
from bullseye_devtools.traffic.catalog import Catalog
from bullseye_devtools.traffic.devices import STORES, Device, store_till
from bullseye_devtools.traffic.envelope import open_visit
from bullseye_devtools.traffic.seeds import rng_for
from bullseye_devtools.traffic.shoppers import Shopper
from bullseye_devtools.traffic.state import JourneyState

UNSUBSCRIBE = 0.02  # per visit of a logged-in shopper
LOG_OUT = 0.05  # per visit on a personal device (always on a shared one)
STORE_OF_COUNTRY = {"FR": (0, 1), "BE": (2,), "DE": (3,)}


def _device(rng: random.Random, shopper: Shopper) -> Device:
    """The first device is the shopper's main one; the others get a visit now and then."""
    weights = [3.0] + [1.0] * (len(shopper.devices) - 1)
    return rng.choices(shopper.devices, weights=weights)[0]


def _online_visit(state: JourneyState, shopper: Shopper, device: Device, at: datetime, *, sign_up: bool) -> None:
    visit = open_visit(state.rng, device, at)
    identity.arrive(state, shopper, visit)
    if visit.user_id and state.rng.random() < UNSUBSCRIBE:
        identity.unsubscribe(state, visit)
    cart = funnel.browse(state, visit, shopper)
    if sign_up and not state.registered:
        identity.sign_up(state, shopper, visit)
    if cart.lines and state.rng.random() < funnel.CHECKOUT:
        funnel.checkout(state, visit, shopper, cart)
    if visit.user_id and (device.shared or state.rng.random() < LOG_OUT):
        identity.log_out(state, visit)


def _store_visit(state: JourneyState, shopper: Shopper, at: datetime) -> None:
    """At the till: items scanned, loyalty card read (user_id), paid. Every other member has
    no card on them and gives their phone number instead (an order identified by a phone
    alone, which identity matches to whoever gave that number)."""
    stores = STORE_OF_COUNTRY.get(shopper.country, tuple(range(len(STORES))))
    till = store_till(state.rng.choice(stores))
    if shopper.phone and shopper.index % 2:
        # Without the till's own device id: a device every customer shares would tie a phone
        # nobody gave before to the till's first customer (it is blocked only once seen on
        # IDENTITY_MAX_PERSONS_PER_VALUE persons).
        visit = open_visit(state.rng, replace(till, device_id=""), at, phone=shopper.phone)
    else:
        visit = open_visit(state.rng, till, at, user_id=shopper.user_id)
    funnel.pay_at_till(state, visit, shopper)


def journey(shopper: Shopper, catalog: Catalog, *, seed: int, start: datetime, end: datetime) -> list[ev.Event]:
    """Every event of `shopper` between `start` and `end`, in the order they were made."""
    state = JourneyState(
        rng=rng_for(seed, "journey", shopper.index), catalog=catalog, end=end, registered=shopper.status == "member"
    )
    rng = state.rng
    span = (end - start - timedelta(hours=3)).total_seconds()  # a visit ends well before `end`
    times = sorted(start + timedelta(seconds=span * rng.random()) for _ in range(shopper.visits))
    signs_up_on = rng.randrange(shopper.visits) if shopper.status == "new" else -1
    for number, at in enumerate(times):
        _online_visit(state, shopper, _device(rng, shopper), at, sign_up=number == signs_up_on)
    for _ in range(shopper.store_visits):
        _store_visit(state, shopper, start + timedelta(seconds=span * rng.random()))
    follow_up(state)
    return state.events
