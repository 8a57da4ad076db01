"""National-format phones without a country or a locale.

A shopper checks out as a guest in a privacy-minded browser that sends no locale, typing
their email and their mobile number as the French do (`06 00 …`); no traits carry a country
either. No rule can read that number, but the email beside it is good. Later, logged in on
their own device, they confirm the same email with the number in full.

Today ingestion rejects the whole guest checkout event, so the link its email makes between
that browser and the shopper's account is lost (a lenient ingestion drops the phone alone).
"""

from __future__ import annotations

from dataclasses import replace

from bullseye_devtools.traffic.realistic.scene import Scene, guest_checkout
from bullseye_devtools.traffic.shoppers import mobile
from bullseye_devtools.traffic.traps import Actor, logged_in_visit, new_device, tell


def national_phones(cast: list[Actor], scene: Scene) -> None:
    for actor in cast:
        rng, shopper = actor.rng, actor.shopper
        browser = replace(new_device(actor, "web-mobile"), locale="")
        at = scene.window.moment(rng, 0.0, 0.6)
        guest_checkout(actor, browser, at, email=shopper.email, phone=mobile(shopper.index, national=True))
        visit = logged_in_visit(actor, shopper.devices[0], scene.later(rng, at))
        tell(actor, visit, email=shopper.email, phone=mobile(shopper.index))
