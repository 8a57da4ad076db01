"""The CATALOG stream folded into `items`: the newest version of each item wins.

Ingestion identifies a change by (item, updated_at or deleted_at) and one item's changes
are in one partition in the order accepted, but a feed may send an old version late: the
row keeps the version with the latest time (later in the stream on a tie), and a deletion
stays as a tombstone so that an older upsert cannot bring the item back. Serving processes
reload their catalog when the transaction that changed it commits (serving/snapshot.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bullseye.catalog.v1 import catalog_pb2 as cat
from bullseye_platform.eventlog import LogRecord
from bullseye_platform.store.pool import Connection

from bullseye_recommendation.projections.changes import notify
from bullseye_recommendation.projections.text_arrays import joined, split

COLUMNS = (
    "item_id", "title", "category_path", "brand", "price", "currency", "tags", "in_stock", "published", "deleted",
    "version",
)  # fmt: skip
TYPES = ("text", "text", "text", "text", "numeric", "text", "text", "boolean", "boolean", "boolean", "timestamptz")

# category_path and tags travel joined (projections/text_arrays.py).
ARRAYS = ", ".join(f"${n + 1}::{kind}[]" for n, kind in enumerate(TYPES))
UPSERT = f"""
INSERT INTO items ({", ".join(COLUMNS)})
SELECT i, t, {split("c")}, b, p, cur, {split("g")}, s, pub, d, v
FROM unnest({ARRAYS}) AS u(i, t, c, b, p, cur, g, s, pub, d, v)
ON CONFLICT (item_id) DO UPDATE SET {", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:])}
WHERE items.version <= EXCLUDED.version
"""


async def apply(conn: Connection, records: Sequence[LogRecord]) -> None:
    """Fold a batch of CatalogRecords (one stream's, in order) into `items`."""
    newest: dict[str, tuple[Any, ...]] = {}
    for record in records:
        row = _row(cat.CatalogRecord.FromString(record.data))
        held = newest.get(row[0])
        if held is None or held[-1] <= row[-1]:  # later in the stream wins a tie, as in the table
            newest[row[0]] = row
    if newest:
        columns = [list(values) for values in zip(*newest.values(), strict=True)]
        await conn.execute(UPSERT, *columns)
        await notify(conn, "items")


def _row(record: cat.CatalogRecord) -> tuple[Any, ...]:
    change = record.change
    if change.WhichOneof("change") == "delete":
        gone = change.delete
        when = _time(gone.deleted_at, record)
        return (gone.item_id, "", "", "", None, "", "", False, False, True, when)
    item = change.upsert
    price = Decimal(item.price.units) + Decimal(item.price.nanos).scaleb(-9) if item.HasField("price") else None
    return (
        item.item_id, item.title, joined(item.category_path), item.brand, price, item.price.currency_code,
        joined(item.tags), item.in_stock, item.published, False, _time(item.updated_at, record),
    )  # fmt: skip


def _time(stamp: Any, record: cat.CatalogRecord) -> datetime:
    """The change's own time; the arrival time for one that has none (ingestion requires it)."""
    chosen = stamp if stamp.seconds or stamp.nanos else record.received_at
    value: datetime = chosen.ToDatetime(tzinfo=UTC)
    return value
