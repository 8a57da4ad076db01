"""Cross-device shopper journeys with ground truth: every event comes with the person who made it.

journeys = generate_journeys(3000, seed=7)
journeys.events            # time-ordered bullseye.events.v1.Event, ready for ingestion
journeys.person_of[eid]    # the true person (shopper index) of event `eid`

The population is the traffic generator's (`make_shopper` / `journey`: several devices,
household tablets, store tills, guests), and about a third of the persons also walk into one of
the `traps`. Events of stale cookies and recycled phones lie months back, so the journeys are
sent with `backfill=true` by a key that has the backfill scope.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.traffic import traps
from bullseye_devtools.traffic.catalog import Catalog, build_catalog
from bullseye_devtools.traffic.journey import journey
from bullseye_devtools.traffic.seeds import rng_for
from bullseye_devtools.traffic.shoppers import Shopper, make_shopper
from bullseye_devtools.traffic.state import JourneyState

# Share of persons drawn into each trap (a pair trap draws a partner too); the rest: none.
TRAP_SHARES = {
    "omnichannel": 0.12,
    "family-app": 0.03,
    "shared-browser": 0.02,
    "stale-cookie": 0.015,
    "buggy-sdk": 0.08,
    "recycled-phone": 0.015,
    "email-typo": 0.05,
}
NEEDS_PHONE = {"omnichannel", "recycled-phone"}
Single = Callable[[traps.Actor, traps.Window], None]
Pair = Callable[[traps.Actor, traps.Actor, traps.Window], None]
SINGLES: dict[str, Single] = {
    "omnichannel": traps.omnichannel,
    "buggy-sdk": traps.buggy_sdk,
    "email-typo": traps.email_typo,
}
PAIRS: dict[str, Pair] = {
    "family-app": lambda a, b, w: traps.shared_device(a, b, w, kind="ios-app"),
    "shared-browser": lambda a, b, w: traps.shared_device(a, b, w, kind="web-desktop"),
    "stale-cookie": traps.stale_cookie,
    "recycled-phone": traps.recycled_phone,
}


@dataclass
class Journeys:
    """The events (time order), each event's true person, and how many persons each trap drew."""

    events: list[ev.Event] = field(default_factory=list)
    person_of: dict[str, int] = field(default_factory=dict)
    traps: Counter[str] = field(default_factory=Counter)
    trap_of: dict[int, str] = field(default_factory=dict)  # person -> the trap they walked into

    @property
    def persons(self) -> int:
        return len(set(self.person_of.values()))


def plan_traps(shoppers: list[Shopper], seed: int) -> list[tuple[str, tuple[int, ...]]]:
    """Which persons walk into which trap; each person into one trap at most (so nobody
    exceeds a realistic number of devices), partners drawn at random from the others."""
    rng = rng_for(seed, "traps")
    pool = list(range(len(shoppers)))
    rng.shuffle(pool)
    names, weights = list(TRAP_SHARES), list(TRAP_SHARES.values())
    planned: list[tuple[str, tuple[int, ...]]] = []
    while pool:
        person = pool.pop()
        name = rng.choices([*names, ""], weights=[*weights, 1.0 - sum(weights)])[0]
        if not name or (name in NEEDS_PHONE and not shoppers[person].phone):
            continue
        if name in PAIRS:
            if not pool:
                continue
            planned.append((name, (person, pool.pop())))
        else:
            planned.append((name, (person,)))
    return planned


def _actor(shopper: Shopper, catalog: Catalog, seed: int, end: datetime) -> traps.Actor:
    state = JourneyState(rng=rng_for(seed, "trap-journey", shopper.index), catalog=catalog, end=end, registered=True)
    return traps.Actor(shopper, state)


def _walk_into_traps(
    shoppers: list[Shopper], catalog: Catalog, seed: int, window: traps.Window, journeys: Journeys
) -> list[traps.Actor]:
    actors: list[traps.Actor] = []
    for name, persons in plan_traps(shoppers, seed):
        cast = [_actor(shoppers[p], catalog, seed, window.end) for p in persons]
        if len(cast) == 2:
            PAIRS[name](cast[0], cast[1], window)
        else:
            SINGLES[name](cast[0], window)
        journeys.traps[name] += len(cast)
        journeys.trap_of.update(dict.fromkeys((actor.shopper.index for actor in cast), name))
        actors += cast
    return actors


def generate_journeys(
    persons: int,
    seed: int,
    *,
    now: datetime | None = None,
    days: float = 3.0,
    history_days: float = 90.0,
    first: int = 0,
) -> Journeys:
    """`persons` shoppers' journeys over the `days` before `now`, traps included, time-ordered.

    The same arguments give byte-identical events; `history_days` places the first life of a
    stale cookie or a recycled phone number that far back. Shoppers are numbers `first` to
    `first + persons - 1` of the seed's population: beside `generate(n, seed)` traffic, start
    at `n` so that nobody is in both (phones and emails derive from the number).
    """
    end = (now or datetime.now(UTC)) - timedelta(minutes=1)
    start = end - timedelta(days=days)
    window = traps.Window(start=start, end=end, history=end - timedelta(days=history_days))
    catalog = build_catalog(seed)
    shoppers = [make_shopper(seed, index, catalog) for index in range(first, first + persons)]
    journeys = Journeys()
    labelled: list[tuple[ev.Event, int]] = []
    for shopper in shoppers:
        labelled += [(e, shopper.index) for e in journey(shopper, catalog, seed=seed, start=start, end=end)]
    for actor in _walk_into_traps(shoppers, catalog, seed, window, journeys):
        labelled += [(e, actor.shopper.index) for e in actor.state.events]
    labelled.sort(key=lambda pair: (pair[0].occurred_at.seconds, pair[0].occurred_at.nanos))
    journeys.events = [e for e, _ in labelled]
    journeys.person_of = {e.event_id: person for e, person in labelled}
    return journeys
