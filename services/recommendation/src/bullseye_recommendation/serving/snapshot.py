"""The catalog and popularity every serving process holds in memory.

A Recommend call ranks the whole catalog; reading it from PostgreSQL per call would cost
more than the rest of the call. So each process keeps a `Snapshot` (items, their attribute
vectors, categories, popularity), built whole and replaced whole by one assignment (a call
holds the snapshot it started with). The projection notifies at commit what it changed
(projections/changes.py); the keeper reloads the catalog on 'items' and popularity on
'popularity', at most once per `interval`, and everything when its LISTEN (re)starts, since
what it missed meanwhile is unknown.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import asyncpg
import numpy as np
import scipy.sparse
from bullseye_platform.jobs.wake import Pass, WakeLoop
from bullseye_platform.store.pool import TRANSIENT
from numpy.typing import NDArray

from bullseye_recommendation.arrays import FloatArray, IntArray
from bullseye_recommendation.domain.content import Attributes, item_vectors
from bullseye_recommendation.projections import popularity

ITEMS = """
SELECT item_id, title, category_path, brand, price::float8 AS price, currency, tags, in_stock, published
FROM items WHERE NOT deleted ORDER BY item_id
"""
_generation = itertools.count(1)
POPULARITY_RANGE = 100.0  # an item this many times less popular than the top one scores about half


@dataclass(frozen=True, slots=True)
class Item:
    item_id: str
    title: str
    category_path: tuple[str, ...]
    brand: str
    price: float | None
    currency: str
    tags: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Items (not deleted) in a fixed order; position i of every array is item i."""

    items: tuple[Item, ...] = ()
    index: dict[str, int] = field(default_factory=dict)  # a plain dict: looked up per history item per call
    published: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    in_stock: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, np.bool_))
    vectors: scipy.sparse.csr_matrix = field(default_factory=lambda: scipy.sparse.csr_matrix((0, 1)))
    categories: Mapping[str, IntArray] = field(default_factory=dict)  # a path element or joined path -> items
    popularity: FloatArray = field(default_factory=lambda: np.zeros(0))  # in [0, 1], see with_popularity
    generation: int = 0  # tells apart two snapshots (what a cached model alignment was made for)

    def __len__(self) -> int:
        return len(self.items)

    def in_category(self, category: str) -> IntArray:
        """Items whose path has `category` as an element, or is `category` joined by ' > '."""
        return self.categories.get(category.strip().lower(), np.zeros(0, np.int64))

    def with_popularity(self, scores: Mapping[str, float]) -> Snapshot:
        """Popularity relative to the most popular item's, on a log scale: 1 for the top item,
        and a long tail that does not dwarf the other parts of a blend."""
        values = np.array([max(scores.get(item.item_id, 0.0), 0.0) for item in self.items], dtype=np.float64)
        top = float(values.max(initial=0.0))
        relative = values / top if top > 0 else values
        scaled = np.log1p(POPULARITY_RANGE * relative) / np.log1p(POPULARITY_RANGE)
        return replace(self, popularity=scaled, generation=next(_generation))


def build(rows: Sequence[asyncpg.Record]) -> Snapshot:
    """The snapshot of the `items` rows (popularity zero until `with_popularity`)."""
    items = tuple(
        Item(r["item_id"], r["title"], tuple(r["category_path"]), r["brand"], r["price"], r["currency"],
             tuple(r["tags"]))
        for r in rows
    )  # fmt: skip
    attributes = [Attributes(i.category_path, i.brand, i.tags, i.price) for i in items]
    return Snapshot(
        items=items,
        index={item.item_id: n for n, item in enumerate(items)},
        published=np.array([r["published"] for r in rows], dtype=np.bool_),
        in_stock=np.array([r["in_stock"] for r in rows], dtype=np.bool_),
        vectors=item_vectors(attributes),
        categories=_categories(items),
        popularity=np.zeros(len(items)),
        generation=next(_generation),
    )


def _categories(items: Sequence[Item]) -> Mapping[str, IntArray]:
    found: dict[str, list[int]] = {}
    for n, item in enumerate(items):
        names = {element.lower() for element in item.category_path} | {" > ".join(item.category_path).lower()}
        for name in names:
            found.setdefault(name, []).append(n)
    return MappingProxyType({name: np.array(members, dtype=np.int64) for name, members in found.items()})


class SnapshotKeeper:
    """Holds the current snapshot; `run` keeps it fresh (a worker of every serving process).

    Reloads are at least `interval` apart, on the steady clock (the service's clock may be
    pinned, and a wall clock stepped back must not hold reloads up): the projection notifies
    at every batch while events flow.
    """

    def __init__(
        self, *, pool: asyncpg.Pool, now: Callable[[], datetime], half_life: float, interval: float
    ) -> None:  # fmt: skip
        self.current = Snapshot()
        self._pool, self._now, self._half_life, self._interval = pool, now, half_life, interval
        self._pending: set[str] = {"items", "popularity"}
        self._loaded = -math.inf  # time.monotonic() at the last load
        self._loop = WakeLoop(name="catalog snapshot", step=self._step, poll=interval, clock=_wall_clock,
                              retry_on=TRANSIENT)  # fmt: skip

    def on_notify(self, what: str) -> None:
        self._pending.add(what)
        self._loop.wake()

    def on_live(self, live: bool) -> None:
        if live:  # changes made while nobody listened are unknown: reload everything
            self.on_notify("items")

    async def load(self) -> None:
        """Reload what changed since the last load (everything at first)."""
        pending, self._pending = self._pending, set()
        try:
            snapshot = self.current
            if "items" in pending:
                snapshot = build(await self._pool.fetch(ITEMS))
            if pending:
                exponent = popularity.exponent(self._now(), self._half_life)
                rows = await self._pool.fetch(popularity.AS_OF, exponent)
                snapshot = snapshot.with_popularity({r["item_id"]: r["popularity"] for r in rows})
        except BaseException:
            self._pending |= pending  # not loaded: still to do
            raise
        self.current, self._loaded = snapshot, time.monotonic()

    async def _step(self) -> Pass:
        if not self._pending:
            return Pass()
        wait = self._loaded + self._interval - time.monotonic()
        if wait > 0:  # WakeLoop wants a time on its own clock; the steady clock says how long to wait
            return Pass(next_due=_wall_clock() + timedelta(seconds=wait))
        await self.load()
        return Pass()

    async def run(self, stop: asyncio.Event) -> None:
        await self._loop.run(stop)


def _wall_clock() -> datetime:
    return datetime.now(UTC)
