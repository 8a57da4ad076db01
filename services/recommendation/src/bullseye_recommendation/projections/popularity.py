"""Time-decayed popularity, stored so that its sum does not depend on the order of events.

An interaction of weight w at time t adds w × 2^((t − EPOCH) / half-life) to its item's
score (projections/interactions.py, in SQL numeric, an exact sum); the popularity as of `now`
is the score divided by 2^((now − EPOCH) / half-life), the same factor for every item, so
rankings need only the stored score and a reader divides to show a value. An event older
than the epoch adds a smaller number, never a wrong one.
"""

from __future__ import annotations

from datetime import UTC, datetime

EPOCH = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())

# Every item's popularity as of a time: $1 = (now − EPOCH) / half-life.
AS_OF = "SELECT item_id, (score / power(2::numeric, $1::numeric))::float8 AS popularity FROM item_popularity"


def exponent(now: datetime, half_life: float) -> float:
    """(now − EPOCH) / half-life: the power of 2 a stored score is divided by."""
    return (now.timestamp() - EPOCH) / half_life
