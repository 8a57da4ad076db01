"""`generate()`: the catalog, then every shopper's events, as one time-ordered stream.

The same (shoppers, seed, now) gives byte-identical events; the same (shoppers, seed) gives
the same event ids whatever `now` is, so a stream can be sent again as a retry would.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.traffic.catalog import Catalog, build_catalog
from bullseye_devtools.traffic.devices import system_source
from bullseye_devtools.traffic.envelope import Visit, stamp
from bullseye_devtools.traffic.journey import journey
from bullseye_devtools.traffic.money import eur
from bullseye_devtools.traffic.seeds import rng_for
from bullseye_devtools.traffic.shoppers import make_shopper

DEFAULT_DAYS = 3.0
# The merchant's catalog feed: a system source, not a shopper, yet ingestion needs an identifier.
FEED = system_source(anonymous_id="system:catalog-feed", user_agent="catalog-sync/1.4")


def catalog_events(catalog: Catalog, *, seed: int, at: datetime) -> Iterator[ev.Event]:
    """One catalog_item_upserted per product, all at `at` (before any shopper sees them)."""
    rng = rng_for(seed, "catalog-events")
    visit = Visit(device=FEED, session_id="", at=at, ip="")
    for product in catalog.products:
        yield stamp(
            rng,
            visit,
            ev.CatalogItemUpserted(
                item_id=product.item_id,
                title=product.title,
                category_path=product.category_path,
                brand=product.brand,
                price=eur(product.price_cents),
                tags=product.tags,
                in_stock=product.in_stock,
            ),
        )


def generate(
    shoppers: int,
    seed: int,
    *,
    now: datetime | None = None,
    days: float = DEFAULT_DAYS,
    ordered: bool = True,
) -> Iterator[ev.Event]:
    """The catalog, then the events of `shoppers` shoppers over the `days` before `now`.

    Every occurred_at lies in [now - days - 1h, now - 1min]: inside ingestion's live window,
    never in the future. With `ordered` (default) shopper events come sorted by time, as a
    live stream would; `ordered=False` streams shopper by shopper in constant memory.
    """
    end = (now or datetime.now(UTC)) - timedelta(minutes=1)
    start = end - timedelta(days=days)
    catalog = build_catalog(seed)
    yield from catalog_events(catalog, seed=seed, at=start - timedelta(hours=1))
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
