"""`generate()`: every shopper's events, as one time-ordered stream (the catalog the shoppers
browse is not an event: `catalog_feed` publishes it on its own stream).

The same (shoppers, seed, now) gives byte-identical events; the same (shoppers, seed) gives
the same event ids whatever `now` is, so a stream can be sent again as a retry would.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.traffic.catalog import build_catalog
from bullseye_devtools.traffic.journey import journey
from bullseye_devtools.traffic.shoppers import make_shopper

DEFAULT_DAYS = 3.0


def generate(
    shoppers: int,
    seed: int,
    *,
    now: datetime | None = None,
    days: float = DEFAULT_DAYS,
    ordered: bool = True,
) -> Iterator[ev.Event]:
    """The events of `shoppers` shoppers over the `days` before `now`.

    Every occurred_at lies in [now - 1min - days, now - 1min]: inside ingestion's live window,
    never in the future. With `ordered` (default) shopper events come sorted by time, as a
    live stream would; `ordered=False` streams shopper by shopper in constant memory.
    """
    end = (now or datetime.now(UTC)) - timedelta(minutes=1)
    start = end - timedelta(days=days)
    catalog = build_catalog(seed)
    journeys = (
        journey(make_shopper(seed, index, catalog), catalog, seed=seed, start=start, end=end)
        for index in range(shoppers)
    )
    if not ordered:
        for events in journeys:
            yield from events
        return
    everything = [event for events in journeys for event in events]
    # sorted() is stable: events at the same instant keep the order they were made in.
    yield from sorted(everything, key=lambda e: (e.occurred_at.seconds, e.occurred_at.nanos))


def batched(events: Iterable[ev.Event], size: int = 100) -> Iterator[list[ev.Event]]:
    """Consecutive lists of at most `size` events (ingestion takes up to 500 per call)."""
    iterator = iter(events)
    while batch := list(islice(iterator, size)):
        yield batch
