"""What a Recommend call reads about its person, in one round trip.

The person's survivor (a merged id names its survivor, bullseye_platform.persons), the most
recent `limit` items of their feedback, most recent first, with net weights (items whose
signals cancel out are not history), the items they bought (and did not return), and their
personalization consent statements. A person with no history also gets their browsed
categories (a second query, only then: a cold start ranks popular items in them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform.consent import ConsentState, Statement, fold

READ = """
SELECT who.id,
       h.items, h.weights,
       ARRAY(SELECT item_id FROM person_items WHERE person_id = who.id AND purchases > 0) AS purchased,
       c.channels, c.granted, c.sources, c.times, c.ids
FROM (SELECT coalesce((SELECT survivor_id FROM person_aliases WHERE person_id = $1), $1) AS id) who
LEFT JOIN LATERAL (
    SELECT array_agg(item_id ORDER BY n) AS items, array_agg(weight ORDER BY n) AS weights
    FROM (SELECT item_id, weight::float8 AS weight,
                 row_number() OVER (ORDER BY last_at DESC, last_sequence DESC) AS n
          FROM person_items WHERE person_id = who.id AND weight <> 0
          ORDER BY last_at DESC, last_sequence DESC LIMIT $2) recent
) h ON true
LEFT JOIN LATERAL (
    SELECT array_agg(channel) AS channels, array_agg(granted) AS granted, array_agg(source) AS sources,
           array_agg(occurred_at) AS times, array_agg(event_id) AS ids
    FROM consent_statements WHERE person_id = who.id
) c ON true
"""
INTERESTS = """
SELECT category FROM interests WHERE person_id = $1 GROUP BY category ORDER BY count(*) DESC, category LIMIT $2
"""
INTEREST_LIMIT = 5


@dataclass(frozen=True, eq=False)
class Person:
    person_id: str  # the survivor
    history: tuple[str, ...]  # item ids, most recent first
    weights: tuple[float, ...]
    purchased: frozenset[str]
    consent: ConsentState
    interests: tuple[str, ...] = ()  # browsed categories, most browsed first (a person with no history)

    @property
    def known(self) -> bool:
        return bool(self.history)


NOBODY = Person("", (), (), frozenset(), ConsentState())


async def read_person(pool: asyncpg.Pool, person_id: str, *, limit: int) -> Person:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(READ, person_id, limit)
        assert row is not None  # the query always returns its one row
        interests: Sequence[str] = ()
        if not row["items"]:
            interests = [r["category"] for r in await conn.fetch(INTERESTS, row["id"], INTEREST_LIMIT)]
    return Person(
        person_id=row["id"], history=tuple(row["items"] or ()), weights=tuple(row["weights"] or ()),
        purchased=frozenset(row["purchased"]), consent=_consent(row), interests=tuple(interests),
    )  # fmt: skip


def _consent(row: asyncpg.Record) -> ConsentState:
    if not row["ids"]:
        return ConsentState()
    columns = zip(row["channels"], row["granted"], row["sources"], row["times"], row["ids"], strict=True)
    return fold(
        Statement(ev.CONSENT_PURPOSE_PERSONALIZATION, channel, granted, source, when, event_id)
        for channel, granted, source, when, event_id in columns
    )
