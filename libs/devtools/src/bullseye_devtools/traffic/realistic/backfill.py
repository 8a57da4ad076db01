"""A CRM export backfilled last: one record per customer, after every live event.

The merchant's CRM knows each customer's account (user id), email and phone since the
account was created, months ago; its export reaches ingestion after everything else, with
`backfill`. Online, these customers used their own device logged in (a remembered session)
without typing their email, and checked out as guests on another device with it: the CRM
record is what ties the two. A correct system links them when it arrives, however late.
"""

from __future__ import annotations

from datetime import timedelta

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.traffic.devices import system_source
from bullseye_devtools.traffic.envelope import Visit, open_visit
from bullseye_devtools.traffic.realistic.scene import Scene, guest_checkout
from bullseye_devtools.traffic.traps import Actor, browse, new_device

# User ids alone: ingestion needs no anonymous id beside one.
CRM = system_source(anonymous_id="", user_agent="crm-export/2.3")
AFTER_THE_END = timedelta(minutes=1)  # when the export arrives: after the last live event


def crm_backfill(cast: list[Actor], scene: Scene) -> None:
    for actor in cast:
        rng, shopper = actor.rng, actor.shopper
        browse(actor, open_visit(rng, shopper.devices[0], scene.window.moment(rng), user_id=shopper.user_id), 3)
        guest_checkout(actor, new_device(actor, "web-desktop"), scene.window.moment(rng), email=shopper.email)
    for actor in cast:  # the export, in customer order
        scene.deliver([crm_record(actor, scene)], scene.window.end + AFTER_THE_END)


def crm_record(actor: Actor, scene: Scene) -> ev.Event:
    """The customer as the CRM has them, dated when their account was created."""
    shopper = actor.shopper
    visit = Visit(device=CRM, session_id="", at=scene.window.long_ago(actor.rng), ip="", user_id=shopper.user_id)
    traits = ev.Traits(country=shopper.country, city=shopper.city, birth_year=shopper.birth_year,
                       membership_tier=shopper.tier)  # fmt: skip
    personal = ev.PersonalData(
        email=shopper.email, phone=shopper.phone, first_name=shopper.first_name, last_name=shopper.last_name
    )
    return actor.state.emit(visit, ev.Identified(traits=traits, personal=personal))
