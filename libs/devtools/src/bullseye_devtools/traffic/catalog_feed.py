"""The merchant's catalog feed: every product as a catalog change, published through
ingestion's PublishCatalog with a catalog key, on its own stream (items are not shoppers).

Retried like the events sender: a change is identified by (item, updated_at), so a batch
stored before an error comes back as duplicates, never as a second copy.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import grpc
from bullseye.catalog.v1 import catalog_pb2 as cat
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from bullseye_devtools.traffic.catalog import Catalog, Product
from bullseye_devtools.traffic.money import eur
from bullseye_devtools.traffic.retry import delay_before_retry
from bullseye_devtools.traffic.sender import SendError, note_rejections


def upsert(product: Product, *, at: Timestamp) -> cat.CatalogChange:
    item = cat.CatalogItem(
        item_id=product.item_id, title=product.title, category_path=product.category_path, brand=product.brand,
        price=eur(product.price_cents), tags=product.tags, in_stock=product.in_stock, published=True, updated_at=at,
    )  # fmt: skip
    return cat.CatalogChange(upsert=item)


def catalog_changes(catalog: Catalog, *, at: datetime) -> list[cat.CatalogChange]:
    """One upsert per product, every one updated at `at` (before any shopper sees them)."""
    updated = Timestamp()
    updated.FromDatetime(at)
    return [upsert(product, at=updated) for product in catalog.products]


@dataclass
class PublishStats:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[str] = field(default_factory=list)  # first few, "item_id: field why"

    def record(self, reply: pb.PublishCatalogResponse) -> None:
        self.accepted += reply.accepted
        self.duplicates += reply.duplicates
        self.rejected += reply.rejected
        note_rejections(self.rejections, [(o.item_id, o) for o in reply.outcomes])


async def publish_catalog(
    changes: Sequence[cat.CatalogChange], *, address: str, api_key: str, batch_size: int = 100,
    max_attempts: int = 10, backoff: float = 0.1,
) -> PublishStats:  # fmt: skip
    """Publish `changes` in order, `batch_size` per call.

    Raises:
        SendError: a batch failed with a final error or ran out of attempts.
    """
    stats, rng = PublishStats(), random.Random()
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.IngestionServiceStub(channel)
        for start in range(0, len(changes), batch_size):
            request = pb.PublishCatalogRequest(changes=changes[start : start + batch_size])
            for attempt in range(max_attempts):
                try:
                    reply = await stub.PublishCatalog(request, metadata=(("x-api-key", api_key),), timeout=30)
                except grpc.aio.AioRpcError as error:
                    delay = delay_before_retry(error, attempt, base=backoff, rng=rng)
                    if delay is None or attempt + 1 == max_attempts:
                        raise SendError(f"PublishCatalog failed: {error.code().name} {error.details()}") from None
                    await asyncio.sleep(delay)
                    continue
                stats.record(reply)
                break
    return stats
