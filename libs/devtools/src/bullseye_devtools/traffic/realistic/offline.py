"""App events that arrive out of order: an offline queue flushed hours late.

A shopper installs the app on a new phone somewhere without network: they browse, log in,
browse on; the app queues it all. Hours later they shop logged in on their laptop; when the
phone is back online, the queue goes out, older than what ingestion already holds, just
before the phone's new session.

Arrival order is all that differs from an ordinary journey, so a correct system links the
same; the situation keeps order-dependent rules honest (a value in a conflict, an oldest
person surviving a merge).
"""

from __future__ import annotations

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.traffic import identity
from bullseye_devtools.traffic.envelope import open_visit
from bullseye_devtools.traffic.realistic.scene import Scene
from bullseye_devtools.traffic.traps import Actor, anonymous_visit, browse, logged_in_visit, new_device, own_device


def offline_queues(cast: list[Actor], scene: Scene) -> None:
    for actor in cast:
        rng, shopper = actor.rng, actor.shopper
        phone = new_device(actor, rng.choice(("ios-app", "android-app")))
        queued_from = len(actor.state.events)
        offline = anonymous_visit(actor, phone, scene.window.moment(rng, 0.0, 0.5))
        identity.log_in(actor.state, shopper, offline)
        browse(actor, offline, rng.randint(1, 3))
        queue = actor.state.events[queued_from:]
        laptop = logged_in_visit(actor, own_device(actor, ev.CHANNEL_WEB, "web-desktop"), scene.later(rng, offline.at))
        online = open_visit(rng, phone, scene.later(rng, laptop.at), user_id=shopper.user_id)
        scene.deliver(queue, online.at)
        browse(actor, online, rng.randint(1, 3))
