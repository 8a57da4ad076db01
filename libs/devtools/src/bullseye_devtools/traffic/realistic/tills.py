"""Shop tills and kiosks: one device id and one anonymous id for every shopper at the counter.

A self-checkout kiosk in a French shop serves about 90 shoppers of the population over the
period. Half the members scan their loyalty card (their user id); everyone else asks for an
e-receipt by email or by SMS (their own address or number), or pays cash and stays anonymous;
half the guests who gave an email create an account online later, on their own device, with it.

Today the kiosk's ids attach to the first shopper's person; each guest's e-receipt email or
phone then joins that person, and the guests' own later sign-ups are refused (a second user
id). The kiosk's ids get blocked after conflicts with more than 5 persons; nothing already
glued is undone.
"""

from __future__ import annotations

import random

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.traffic import funnel, identity
from bullseye_devtools.traffic.devices import STORES, Device
from bullseye_devtools.traffic.envelope import Visit, open_visit
from bullseye_devtools.traffic.realistic.scene import Scene
from bullseye_devtools.traffic.seeds import uuid_from
from bullseye_devtools.traffic.traps import Actor, browse, tell

PER_KIOSK = 90
LOYALTY_CARD = 0.5  # of members: the others forgot it, or do not bother at a kiosk
FRENCH_SHOPS = 2  # STORES' first two: e-receipt numbers typed as the French do are read in FR
E_RECEIPT_EMAIL = 0.6  # of guests; then SMS (when they have a phone), the rest pay cash
E_RECEIPT_SMS = 0.2
SIGNS_UP_LATER = 0.5  # of guests who gave their email


def tills(cast: list[Actor], scene: Scene) -> None:
    """The cast shares out over one kiosk per `PER_KIOSK` shoppers."""
    count = max(1, round(len(cast) / PER_KIOSK))
    for number in range(count):
        device = kiosk(number, scene.rng)
        for actor in cast[number::count]:
            at_the_counter(actor, device, scene)


def kiosk(number: int, rng: random.Random) -> Device:
    """Self-checkout kiosk `number`: its app keeps one install id for everyone."""
    name, locale, timezone = STORES[number % FRENCH_SHOPS]
    return Device(
        anonymous_id=uuid_from(rng),
        device_id=f"kiosk-{name}-{number // FRENCH_SHOPS + 1}",
        channel=ev.CHANNEL_STORE,
        info=ev.Device(type="kiosk", manufacturer="Tillcraft", model="K7", os="Android", os_version="13"),
        user_agent="Tillcraft-Kiosk/4.1",
        locale=locale,
        timezone=timezone,
        ip=f"198.51.100.{40 + number}",
        roaming=False,
        shared=True,
    )


def at_the_counter(actor: Actor, device: Device, scene: Scene) -> None:
    """A member pays with their loyalty card; others pay, then maybe ask for an e-receipt."""
    rng, shopper = actor.rng, actor.shopper
    loyalty = shopper.user_id if shopper.has_account and rng.random() < LOYALTY_CARD else ""
    visit = open_visit(rng, device, scene.window.moment(rng, 0.0, 0.7), user_id=loyalty)
    funnel.pay_at_till(actor.state, visit, shopper)
    if loyalty:
        return
    roll = rng.random()
    if roll < E_RECEIPT_EMAIL:
        tell(actor, visit, email=shopper.email)
        if not shopper.has_account and rng.random() < SIGNS_UP_LATER:
            sign_up_online(actor, visit, scene)
    elif roll < E_RECEIPT_EMAIL + E_RECEIPT_SMS and shopper.phone:
        tell(actor, visit, phone=shopper.phone)


def sign_up_online(actor: Actor, after: Visit, scene: Scene) -> None:
    """Days later, at home on their own device: an account with the e-receipt's email."""
    rng = actor.rng
    visit = open_visit(rng, actor.shopper.devices[0], scene.later(rng, after.at))
    browse(actor, visit, rng.randint(1, 3))
    identity.sign_up(actor.state, actor.shopper, visit)
