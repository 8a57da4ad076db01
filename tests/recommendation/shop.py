"""A small generated shop for the service tests: a catalog and shoppers with a planted order.

60 items in three leaf categories (two under Home, one under Garden) and four brands; each
shopper walks from item to item, mostly to the item's `successor` (synthetic.py), viewing
each. A model that reads the order learns "after x comes successor(x)", which the tests can
check through Recommend; everything is deterministic for a seed.
"""

from __future__ import annotations

from typing import Any

from bullseye.catalog.v1 import catalog_pb2 as cat
from bullseye.events.v1 import event_pb2 as ev

from tests.recommendation import support
from tests.recommendation.synthetic import ITEMS, successor, walks

CATEGORIES = ("Home/Kitchen/Knives", "Home/Kitchen/Pans", "Garden/Tools")
SHOPPERS = 200


def sku(number: int) -> str:
    return f"sku-{number:02d}"


def category_of(number: int) -> str:
    return CATEGORIES[number % len(CATEGORIES)]


def item_of(item_id: str, **changes: Any) -> cat.CatalogItem:
    """Catalog item `sku-NN` as the shop describes it, with `changes` (in_stock, published)."""
    n = int(item_id.removeprefix("sku-"))
    return support.item(item_id, category_of(n), brand=f"brand-{n % 4}", price=10.0 + n,
                        tags=("eco",) if n % 5 else (), **changes)  # fmt: skip


def catalog() -> list[cat.CatalogItem]:
    return [item_of(sku(n)) for n in range(ITEMS)]


def shopper(number: int) -> str:
    return f"shopper-{number:03d}"


def journeys(*, seed: int = 7) -> dict[str, list[ev.Event]]:
    """Every shopper's views in order, one minute apart."""
    data = walks(persons=SHOPPERS, seed=seed)
    out = {}
    for person in range(SHOPPERS):
        items = data.items[data.starts[person] : data.starts[person + 1]]
        out[shopper(person)] = [support.viewed(sku(int(i)), support.at(step)) for step, i in enumerate(items)]
    return out


def next_after(number: int) -> str:
    """The item most shoppers view after item `number`."""
    return sku(successor(number))


async def stock(running: support.RecommendationUnderTest) -> None:
    """The catalog fed in, folded, and in the serving process's snapshot."""
    await running.catalog.upsert(*catalog())
    await running.caught_up()
    await running.shows(ITEMS)


async def open_shop(running: support.RecommendationUnderTest) -> dict[str, list[ev.Event]]:
    """The catalog and every shopper's journey fed in; returns the journeys once folded."""
    await stock(running)
    shoppers = journeys()
    for person, events in shoppers.items():
        await running.events.events(person, *events)
    await running.caught_up()
    return shoppers
