"""Realistic journeys: situations identity was not built for, each with ground truth.

journeys = generate_realistic(500, seed=7)   # about 9,000 events, in the order sent
journeys.person_of[eid], journeys.trap_of[person]

Households whose app issues a new anonymous id at each logout, shop kiosks used by ~90
shoppers, placeholders not on the blocked list, shared and handed-over mailboxes, national
phone numbers without a country, a CRM export backfilled last, app queues delivered out of
order (one module each). The ground truth is what a *correct* system links
(`bullseye_devtools.quality.truth` with `logged_out_follows_device=False`): a value several
persons use links nobody; an event is unscorable only when nothing it carries says who made it.
"""

from bullseye_devtools.traffic.realistic.generator import SITUATIONS, generate_realistic

__all__ = ["SITUATIONS", "generate_realistic"]
