"""`generate_realistic()`: the population's ordinary journeys, and a share of it in each situation.

Each person walks into one situation at most, so that the figures per situation say what
happened to the persons in it. The events come in the order ingestion receives them: when
they happen, but for the offline queues and the CRM export (`Scene.late`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bullseye_devtools.traffic.journeys import Journeys, Population
from bullseye_devtools.traffic.realistic.backfill import crm_backfill
from bullseye_devtools.traffic.realistic.households import households
from bullseye_devtools.traffic.realistic.mailboxes import shared_mailboxes
from bullseye_devtools.traffic.realistic.offline import offline_queues
from bullseye_devtools.traffic.realistic.phones import national_phones
from bullseye_devtools.traffic.realistic.placeholders import placeholders
from bullseye_devtools.traffic.realistic.scene import Scene
from bullseye_devtools.traffic.realistic.tills import tills
from bullseye_devtools.traffic.seeds import rng_for
from bullseye_devtools.traffic.traps import Actor

Situation = Callable[[list[Actor], Scene], None]
# name: (the situation, share of the population in it, fewest persons it needs)
SITUATIONS: dict[str, tuple[Situation, float, int]] = {
    "household": (households, 0.12, 2),
    "till": (tills, 0.18, 3),
    "placeholder": (placeholders, 0.08, 4),
    "shared-mailbox": (shared_mailboxes, 0.05, 2),
    "national-phone": (national_phones, 0.05, 1),
    "crm-backfill": (crm_backfill, 0.10, 1),
    "out-of-order": (offline_queues, 0.08, 1),
}
FEWEST = 30  # persons: every situation's fewest, and ordinary shoppers beside them


def cast(persons: int, seed: int) -> dict[str, list[int]]:
    """Who walks into which situation: positions in the population, drawn without repeats."""
    rng = rng_for(seed, "situations")
    pool = rng.sample(range(persons), persons)
    return {
        name: sorted(pool.pop() for _ in range(max(fewest, round(share * persons))))
        for name, (_, share, fewest) in SITUATIONS.items()
    }


def generate_realistic(
    persons: int,
    seed: int,
    *,
    now: datetime | None = None,
    days: float = 3.0,
    history_days: float = 90.0,
    first: int = 0,
) -> Journeys:
    """`persons` shoppers over the `days` before `now`, in the order ingestion receives them.

    The same arguments give byte-identical events. Shoppers are numbers `first` to
    `first + persons - 1` of the seed's population (see `generate_journeys`).

    Raises:
        ValueError: fewer than `FEWEST` persons, or less than a day.
    """
    if persons < FEWEST or days < 1:
        raise ValueError(f"realistic journeys need at least {FEWEST} persons and a day; got {persons}, {days:g}")
    population = Population.drawn(persons, seed, now=now, days=days, history_days=history_days, first=first)
    journeys = Journeys(logged_out_follows_device=False)
    labelled, late = population.everyday(), dict[str, datetime]()
    for name, positions in cast(persons, seed).items():
        actors = [population.actor(population.shoppers[p]) for p in positions]
        SITUATIONS[name][0](actors, Scene(population.window, rng_for(seed, "situation", name), late))
        labelled += journeys.walked_into(name, actors)
    journeys.take(labelled, late=late)
    return journeys
