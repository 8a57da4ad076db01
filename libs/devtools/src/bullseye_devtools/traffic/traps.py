"""Identity traps layered on shoppers' journeys: what makes identity resolution hard in practice.

Each trap adds visits to one shopper (or a pair) with the traffic builders (`open_visit`,
`identity.log_in`, `funnel.view_product`), so the events look like every other event;
only who made them (the `Actor`) is known here, which is the ground truth.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.traffic import funnel, identity
from bullseye_devtools.traffic.devices import SPECS, TABLET, Device, make_device, store_till
from bullseye_devtools.traffic.envelope import Visit, open_visit
from bullseye_devtools.traffic.seeds import uuid_from
from bullseye_devtools.traffic.shoppers import Shopper
from bullseye_devtools.traffic.state import Cart, JourneyState

# Values buggy SDKs hard-code (Segment's default blocked values); identity must never link by them.
BOGUS_IDS = ("0", "null", "undefined", "anonymous", "00000000-0000-0000-0000-000000000000")
ZERO_UUID = BOGUS_IDS[-1]  # iOS's advertising id when the user limits tracking
SPEC = {spec.kind: spec for spec in SPECS}


@dataclass
class Actor:
    """One person in a trap: who they are and where their events go (their true person)."""

    shopper: Shopper
    state: JourneyState

    @property
    def rng(self) -> random.Random:
        return self.state.rng


@dataclass(frozen=True)
class Window:
    """When traps happen: the live period, and `history` (months ago) for stale identifiers."""

    start: datetime
    end: datetime
    history: datetime

    def moment(self, rng: random.Random, low: float = 0.0, high: float = 1.0) -> datetime:
        """A time between `low` and `high` of the live period (leaving room for a visit)."""
        span = (self.end - self.start - timedelta(hours=3)).total_seconds()
        return self.start + timedelta(seconds=span * rng.uniform(low, high))

    def long_ago(self, rng: random.Random) -> datetime:
        return self.history + timedelta(hours=rng.uniform(0, 72))


def new_device(actor: Actor, kind: str, *, shared: bool = False) -> Device:
    shopper = actor.shopper
    own = shopper.devices[0]
    return make_device(actor.rng, SPEC.get(kind, TABLET), locale=own.locale, timezone=own.timezone, shared=shared)


def own_device(actor: Actor, channel: ev.Channel.ValueType, kind: str) -> Device:
    """The shopper's own device of that channel, or a new one of `kind`."""
    found = [d for d in actor.shopper.devices if d.channel == channel and not d.shared]
    return found[0] if found else new_device(actor, kind)


def browse(actor: Actor, visit: Visit, views: int) -> None:
    """A few product views in the shopper's favourite categories."""
    cart = Cart(cart_id=f"c-{uuid_from(actor.rng)}")
    for _ in range(views):
        visit.wait(actor.rng)
        product = actor.state.catalog.pick(actor.rng, actor.shopper.favourite_leaves)
        funnel.view_product(actor.state, visit, product, cart)


def logged_in_visit(actor: Actor, device: Device, at: datetime, *, views: int = 2, log_out: bool = False) -> Visit:
    visit = open_visit(actor.rng, device, at)
    identity.log_in(actor.state, actor.shopper, visit)
    browse(actor, visit, views)
    if log_out:
        identity.log_out(actor.state, visit)
    return visit


def anonymous_visit(actor: Actor, device: Device, at: datetime, *, views: int = 2) -> Visit:
    visit = open_visit(actor.rng, device, at)
    visit.show("/", "Bullseye Shop")
    actor.state.emit(visit, ev.PageViewed(name="home"))
    browse(actor, visit, views)
    return visit


def tell(actor: Actor, visit: Visit, *, email: str = "", phone: str = "") -> None:
    """An Identified event carrying only the given contact points."""
    actor.state.emit(visit, ev.Identified(personal=ev.PersonalData(email=email, phone=phone)))


def omnichannel(actor: Actor, window: Window) -> None:
    """One person everywhere: app (device id), laptop (cookie), store (phone), email on a tablet."""
    rng, shopper = actor.rng, actor.shopper
    laptop = logged_in_visit(actor, own_device(actor, ev.CHANNEL_WEB, "web-desktop"), window.moment(rng, 0.0, 0.3))
    tell(actor, laptop, email=shopper.email, phone=shopper.phone)
    logged_in_visit(actor, own_device(actor, ev.CHANNEL_APP, "ios-app"), window.moment(rng, 0.3, 0.5))
    till = open_visit(rng, store_till(rng.randrange(4)), window.moment(rng, 0.5, 0.7), user_id=shopper.user_id)
    tell(actor, till, phone=shopper.phone)  # the cashier asks for the phone number
    product = actor.state.catalog.pick(rng, shopper.favourite_leaves)
    funnel.place_order(actor.state, till, ((product, 1),))
    tablet = open_visit(rng, new_device(actor, "tablet"), window.moment(rng, 0.7, 1.0))
    message = ev.MessageInteracted(
        message_id=f"m-{uuid_from(rng)}", interaction=ev.MESSAGE_INTERACTION_OPENED,
        campaign_id="weekly-picks", channel=ev.CONTACT_CHANNEL_EMAIL,
    )  # fmt: skip
    actor.state.emit(tablet, message)
    tell(actor, tablet, email=shopper.email)  # the email's link identifies the reader
    browse(actor, tablet, 2)


def shared_device(first: Actor, second: Actor, window: Window, *, kind: str) -> None:
    """A family app (one device id) or browser (one cookie): each logs in with their own account,
    and each also browses logged out, which no rule can attribute."""
    device = new_device(first, kind, shared=True)
    for actor, (low, high) in ((first, (0.0, 0.5)), (second, (0.5, 1.0))):
        anonymous_visit(actor, device, window.moment(actor.rng, low, low + 0.1))
        logged_in_visit(actor, device, window.moment(actor.rng, low + 0.2, high), log_out=True)


def stale_cookie(first: Actor, second: Actor, window: Window) -> None:
    """A browser cookie left from months ago (a second-hand laptop) is reused by another person."""
    cookie = new_device(first, "web-desktop")
    logged_in_visit(first, cookie, window.long_ago(first.rng), views=3)
    anonymous_visit(second, cookie, window.moment(second.rng, 0.0, 0.4))
    logged_in_visit(second, cookie, window.moment(second.rng, 0.5, 1.0), views=3)


def buggy_sdk(actor: Actor, window: Window) -> None:
    """A device whose SDK sends a hard-coded id: the zero advertising id, or a bogus cookie/user id."""
    rng = actor.rng
    variant = rng.choice(("device_id", "anonymous_id", "user_id"))
    if variant == "device_id":
        device = replace(new_device(actor, "ios-app"), device_id=ZERO_UUID)
        anonymous_visit(actor, device, window.moment(rng, 0.0, 0.5))
        logged_in_visit(actor, device, window.moment(rng, 0.5, 1.0))
    elif variant == "anonymous_id":
        device = replace(new_device(actor, "web-mobile"), anonymous_id=rng.choice(BOGUS_IDS[:4]))
        anonymous_visit(actor, device, window.moment(rng, 0.0, 0.5))
        logged_in_visit(actor, device, window.moment(rng, 0.5, 1.0))
    else:
        visit = open_visit(rng, own_device(actor, ev.CHANNEL_WEB, "web-desktop"), window.moment(rng))
        visit.user_id = rng.choice(BOGUS_IDS[:4])  # a web snippet that stringifies a missing user
        browse(actor, visit, 3)


def recycled_phone(first: Actor, second: Actor, window: Window) -> None:
    """Months after the first person gave it, the operator hands the same number to someone else."""
    phone = first.shopper.phone
    old = logged_in_visit(first, first.shopper.devices[0], window.long_ago(first.rng))
    tell(first, old, phone=phone)
    new = logged_in_visit(second, second.shopper.devices[0], window.moment(second.rng))
    tell(second, new, email=second.shopper.email, phone=phone)


def typo(email: str) -> str:
    """The address with two neighbouring letters of its local part swapped (a common slip)."""
    local, domain = email.strip().lower().split("@")
    at = next((i for i in range(1, len(local) - 1) if local[i] != local[i + 1] and local[i + 1] != "."), 1)
    return f"{local[:at]}{local[at + 1]}{local[at]}{local[at + 2 :]}@{domain}"


def email_typo(actor: Actor, window: Window) -> None:
    """Logged in, the shopper first types a wrong address, then corrects it days later."""
    rng, shopper = actor.rng, actor.shopper
    first = logged_in_visit(actor, shopper.devices[0], window.moment(rng, 0.0, 0.4))
    tell(actor, first, email=typo(shopper.email))
    later = logged_in_visit(actor, shopper.devices[0], window.moment(rng, 0.6, 1.0))
    tell(actor, later, email=shopper.email)
