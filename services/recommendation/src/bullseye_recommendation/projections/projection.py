"""The recommendation projection: RESOLVED, CATALOG and its own RECO, one projection.

The platform's runner reads the three streams, each in its own order, with a position per
(stream, partition) stored in the transaction that applies a batch (exactly once); a batch
holds records of one stream, handed to that stream's fold. Nothing is emitted while folding
(no fact, no outbox row), so a rebuild is a plain reset and replay: the tables it gives are
the tables the live fold gave.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType

from bullseye_platform.eventlog import LogRecord
from bullseye_platform.store.pool import Connection

from bullseye_recommendation.projections import catalog, impressions, interactions

NAME = "recommendation"
OWNED_TABLES = ("items", *interactions.OWNED_TABLES, *impressions.OWNED_TABLES)
Fold = Callable[[Connection, Sequence[LogRecord]], Awaitable[None]]


class RecommendationProjection:
    """A Projection (bullseye_platform.projection) over the streams named in `folds`."""

    name = NAME
    owned_tables: Sequence[str] = OWNED_TABLES

    def __init__(self, folds: Mapping[str, Fold]) -> None:
        self._folds = MappingProxyType(dict(folds))

    @classmethod
    def of(cls, *, resolved: str, catalog_stream: str, reco: str,
           rows: interactions.InteractionRows) -> RecommendationProjection:  # fmt: skip
        return cls({resolved: rows.apply, catalog_stream: catalog.apply, reco: impressions.apply})

    async def apply(self, conn: Connection, records: Sequence[LogRecord]) -> None:
        await self._folds[records[0].stream](conn, records)
