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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bullseye.events.v1 import event_pb2 as ev
from google.protobuf.timestamp_pb2 import Timestamp

from bullseye_devtools.traffic import traps
from bullseye_devtools.traffic.catalog import Catalog, build_catalog
from bullseye_devtools.traffic.journey import journey
from bullseye_devtools.traffic.seeds import rng_for
from bullseye_devtools.traffic.shoppers import Shopper, make_shopper
from bullseye_devtools.traffic.state import JourneyState
from bullseye_devtools.traffic.traps import Actor, Window

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
Single = Callable[[Actor, Window], None]
Pair = Callable[[Actor, Actor, Window], None]
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
    """The events (in the order they are sent: time order, unless some arrive late), each
    event's true person, and how many persons each trap drew.

    `logged_out_follows_device`: how the ground truth reads an event typed logged out on a
    device several persons share (see `bullseye_devtools.quality.truth`)."""

    events: list[ev.Event] = field(default_factory=list)
    person_of: dict[str, int] = field(default_factory=dict)
    traps: Counter[str] = field(default_factory=Counter)
    trap_of: dict[int, str] = field(default_factory=dict)  # person -> the trap they walked into
    logged_out_follows_device: bool = True

    @property
    def persons(self) -> int:
        return len(set(self.person_of.values()))

    def take(self, labelled: list[tuple[ev.Event, int]], *, late: Mapping[str, datetime] | None = None) -> None:
        """Keep `labelled` (event, person) in the order they reach ingestion: when they
        happened, or when `late` says they arrive (sorted() is stable: ties keep their order)."""
        arrival = {event_id: _instant(at) for event_id, at in (late or {}).items()}
        labelled.sort(key=lambda pair: arrival.get(pair[0].event_id) or _instant(pair[0].occurred_at))
        self.events = [e for e, _ in labelled]
        self.person_of = {e.event_id: person for e, person in labelled}

    def walked_into(self, trap: str, cast: list[Actor]) -> list[tuple[ev.Event, int]]:
        """Count `cast` as drawn into `trap`; their trap events, labelled with their person."""
        self.traps[trap] += len(cast)
        self.trap_of.update(dict.fromkeys((actor.shopper.index for actor in cast), trap))
        return [(e, actor.shopper.index) for actor in cast for e in actor.state.events]


def _instant(at: datetime | Timestamp) -> tuple[int, int]:
    """(seconds, nanos): exact where a float would round, and the same for both kinds."""
    if isinstance(at, datetime):
        stamp = Timestamp()
        stamp.FromDatetime(at)
        at = stamp
    return at.seconds, at.nanos


@dataclass(frozen=True)
class Population:
    """Shoppers `first` to `first + persons - 1` of the seed's population, their catalog, and
    the window their journeys and traps happen in."""

    seed: int
    catalog: Catalog
    shoppers: list[Shopper]
    window: Window

    @classmethod
    def drawn(
        cls, persons: int, seed: int, *, now: datetime | None, days: float, history_days: float, first: int
    ) -> Population:
        end = (now or datetime.now(UTC)) - timedelta(minutes=1)
        window = Window(start=end - timedelta(days=days), end=end, history=end - timedelta(days=history_days))
        catalog = build_catalog(seed)
        return cls(seed, catalog, [make_shopper(seed, i, catalog) for i in range(first, first + persons)], window)

    def everyday(self) -> list[tuple[ev.Event, int]]:
        """Every shopper's ordinary journey (`journey`), each event labelled with its person."""
        start, end = self.window.start, self.window.end
        return [
            (e, shopper.index)
            for shopper in self.shoppers
            for e in journey(shopper, self.catalog, seed=self.seed, start=start, end=end)
        ]

    def actor(self, shopper: Shopper) -> Actor:
        """`shopper` about to walk into a trap, with an account (traps log in) and its own draws."""
        rng = rng_for(self.seed, "trap-journey", shopper.index)
        return Actor(shopper, JourneyState(rng=rng, catalog=self.catalog, end=self.window.end, registered=True))


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


def _walk_into_traps(population: Population, journeys: Journeys) -> list[tuple[ev.Event, int]]:
    labelled: list[tuple[ev.Event, int]] = []
    window = population.window
    for name, persons in plan_traps(population.shoppers, population.seed):
        cast = [population.actor(population.shoppers[p]) for p in persons]
        if len(cast) == 2:
            PAIRS[name](cast[0], cast[1], window)
        else:
            SINGLES[name](cast[0], window)
        labelled += journeys.walked_into(name, cast)
    return labelled


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
    population = Population.drawn(persons, seed, now=now, days=days, history_days=history_days, first=first)
    journeys = Journeys()
    labelled = population.everyday()
    labelled += _walk_into_traps(population, journeys)
    journeys.take(labelled)
    return journeys
