"""The trainer's interactions read from the projection: every person's items with a positive
net weight, in the order of their latest touch (what Recommend gives the model at request
time, serving/people.py), with the data window the model was trained on.

Read with a server-side cursor in chunks: a MovieLens-sized projection is a million rows.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import numpy as np

from bullseye_recommendation.training.interactions import Interactions
from bullseye_recommendation.training.sources import Dataset

ROWS = """
SELECT person_id, item_id, weight::float8 AS weight FROM person_items WHERE weight > 0
ORDER BY person_id, last_at, last_sequence
"""
WINDOW = "SELECT min(occurred_at) AS first, max(occurred_at) AS last, count(*) AS rows FROM interactions"
CHUNK = 50_000


async def read_projection(pool: asyncpg.Pool) -> Dataset:
    persons: dict[str, int] = {}
    items: dict[str, int] = {}
    person_codes: list[int] = []
    item_codes: list[int] = []
    weights: list[float] = []
    async with pool.acquire() as conn, conn.transaction():
        window = await conn.fetchrow(WINDOW)
        assert window is not None  # an aggregate always has its row
        async for row in conn.cursor(ROWS, prefetch=CHUNK):
            person_codes.append(persons.setdefault(row["person_id"], len(persons)))
            item_codes.append(items.setdefault(row["item_id"], len(items)))
            weights.append(row["weight"])
    order = np.arange(len(item_codes), dtype=np.int64)  # rows come in each person's order
    data = Interactions.of(
        np.array(person_codes, dtype=np.int64), np.array(item_codes, dtype=np.int64), order,
        n_persons=len(persons), n_items=len(items), weights=np.array(weights, dtype=np.float64),
    )  # fmt: skip
    described = {"source": "projection", "from": _iso(window["first"]), "to": _iso(window["last"]),
                 "interactions": int(window["rows"]), "persons": len(persons), "items": len(items)}  # fmt: skip
    return Dataset(interactions=data, item_ids=list(items), window=described)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
