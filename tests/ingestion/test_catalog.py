"""PublishCatalog: catalog feeds' upserts and deletions on their own stream, CATALOG.

Items are not shoppers: no identifier is needed, nothing reaches EVENTS (so identity, which
reads only EVENTS, never sees them), and only a key with the catalog scope may publish.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import grpc
import pytest
from bullseye.catalog.v1 import catalog_pb2 as cat
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from google.type import money_pb2
from nats.aio.client import Client as NATS

from tests.conftest import create_key
from tests.ingestion import helpers as h

CATALOG = "CATALOG"
ACCEPTED, DUPLICATE, REJECTED = pb.EVENT_STATUS_ACCEPTED, pb.EVENT_STATUS_DUPLICATE, pb.EVENT_STATUS_REJECTED


@pytest.fixture(scope="module")
def catalog_key(ingestion_env: dict[str, str]) -> str:
    return create_key(ingestion_env, "--source", "pim-feed", "--catalog")


def item_id() -> str:
    return f"sku-{uuid.uuid4().hex[:10]}"


def upsert(item: str, *, at: datetime | None = None, **fields: Any) -> cat.CatalogChange:
    """A valid upsert of `item`, but for `fields` (CatalogItem fields)."""
    made = cat.CatalogItem(**{
        "item_id": item, "title": "Santoku knife", "category_path": ["Home", "Kitchen", "Knives"], "brand": "Kiruna",
        "price": money_pb2.Money(currency_code="EUR", units=49, nanos=900_000_000), "tags": ["bestseller"],
        "in_stock": True, "published": True, **fields,
    })  # fmt: skip
    made.updated_at.FromDatetime(at or h.now())
    return cat.CatalogChange(upsert=made)


def delete(item: str, *, at: datetime | None = None) -> cat.CatalogChange:
    gone = cat.CatalogItemDeletion(item_id=item)
    gone.deleted_at.FromDatetime(at or h.now())
    return cat.CatalogChange(delete=gone)


async def publish(
    api: pb_grpc.IngestionServiceStub, key: str, *changes: cat.CatalogChange
) -> pb.PublishCatalogResponse:
    return await api.PublishCatalog(pb.PublishCatalogRequest(changes=changes), metadata=h.auth(key), timeout=30)


async def catalog_since(nc: NATS, mark: int) -> list[tuple[str, str, cat.CatalogRecord]]:
    """(subject, message id, record) of every CATALOG message after `mark`, in order."""
    js = nc.jetstream()
    end = int((await js.stream_info(CATALOG)).state.last_seq)
    found = []
    for seq in range(mark + 1, end + 1):
        raw = await js.get_msg(CATALOG, seq)
        msg_id = (raw.headers or {}).get("Nats-Msg-Id", "")
        found.append((raw.subject or "", msg_id, cat.CatalogRecord.FromString(raw.data or b"")))
    return found


@pytest.fixture
async def catalog_mark(nc: NATS, ingestion: object) -> int:
    return int((await nc.jetstream().stream_info(CATALOG)).state.last_seq)


async def test_upserts_and_deletes_of_an_item_land_in_order_on_one_partition(
    api: pb_grpc.IngestionServiceStub, catalog_key: str, nc: NATS, catalog_mark: int
) -> None:
    knife, board = item_id(), item_id()
    first = h.now() - timedelta(hours=2)
    reply = await publish(
        api, catalog_key, upsert(knife, at=first), upsert(board, at=first), upsert(knife, at=first + timedelta(hours=1),
        in_stock=False), delete(knife, at=first + timedelta(hours=2)),
    )  # fmt: skip
    assert (reply.accepted, reply.duplicates, reply.rejected) == (4, 0, 0)
    assert [o.item_id for o in reply.outcomes] == [knife, board, knife, knife]

    stored = await catalog_since(nc, catalog_mark)
    mine = [(subject, record) for subject, _, record in stored if knife in (record.change.upsert.item_id,
                                                                            record.change.delete.item_id)]  # fmt: skip
    kinds = [subject.rsplit(".", 1)[1] for subject, _ in mine]
    assert kinds == ["upserted", "upserted", "deleted"]
    assert len({subject.split(".")[1] for subject, _ in mine}) == 1  # one partition: one order
    assert [r.change.upsert.in_stock for _, r in mine[:2]] == [True, False]
    kept = mine[0][1]
    assert kept.source == "pim-feed" and kept.received_at.seconds > 0
    assert kept.change.upsert.category_path == ["Home", "Kitchen", "Knives"]
    assert (kept.change.upsert.brand, kept.change.upsert.price.units, kept.change.upsert.published) == (
        "Kiruna",
        49,
        True,
    )
    assert list(kept.change.upsert.tags) == ["bestseller"]


async def test_no_identifier_is_needed_and_nothing_reaches_events(
    api: pb_grpc.IngestionServiceStub, catalog_key: str, nc: NATS, mark: int, catalog_mark: int
) -> None:
    reply = await publish(api, catalog_key, upsert(item_id()), upsert(item_id()))

    assert reply.accepted == 2
    assert await h.last_seq(nc) == mark, "a catalog change reached EVENTS (which identity resolves)"
    subjects = [subject for subject, _, _ in await catalog_since(nc, catalog_mark)]
    assert len(subjects) == 2 and all(s.startswith("catalog.") for s in subjects)


async def test_only_a_key_with_the_catalog_scope_may_publish_and_it_may_only_publish(
    api: pb_grpc.IngestionServiceStub, catalog_key: str, write_key: str, nc: NATS, mark: int, catalog_mark: int
) -> None:
    refused = await h.failure(publish(api, write_key, upsert(item_id())))
    assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "catalog:write" in (refused.details() or "")
    assert h.reason(refused) == "SCOPE_MISSING"
    nobody = await h.failure(api.PublishCatalog(pb.PublishCatalogRequest(changes=[upsert(item_id())])))
    assert nobody.code() == grpc.StatusCode.UNAUTHENTICATED
    shopper_event = await h.failure(h.batch(api, catalog_key, [h.event()]))
    assert shopper_event.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await catalog_since(nc, catalog_mark) == [] and await h.last_seq(nc) == mark


async def test_bad_changes_are_rejected_with_their_violations_and_the_good_ones_kept(
    api: pb_grpc.IngestionServiceStub, catalog_key: str, nc: NATS, catalog_mark: int
) -> None:
    no_time = upsert(item_id())
    no_time.upsert.ClearField("updated_at")
    unflagged = upsert(item_id())
    unflagged.upsert.ClearField("published")
    unflagged.upsert.ClearField("in_stock")
    changes = [
        upsert(item_id()),
        upsert(item_id(), title=" "),
        upsert(item_id(), price=money_pb2.Money(currency_code="EUR", units=-3)),
        no_time,
        upsert(item_id(), at=h.now() + timedelta(hours=1)),
        upsert(item_id(), tags=["ok", "bad\x00tag"]),
        upsert(item_id(), category_path=[f"level{n}" for n in range(9)]),
        unflagged,
        cat.CatalogChange(),
        delete(""),
        delete(item_id()),
    ]
    reply = await publish(api, catalog_key, *changes)

    statuses = [o.status for o in reply.outcomes]
    assert statuses == [ACCEPTED, *[REJECTED] * 9, ACCEPTED]
    assert [o.index for o in reply.outcomes] == list(range(len(changes)))
    fields = [sorted(v.field for v in o.violations) for o in reply.outcomes[1:10]]
    assert fields == [
        ["upsert.title"], ["upsert.price"], ["upsert.updated_at"], ["upsert.updated_at"], ["upsert.tags[1]"],
        ["upsert.category_path"], ["upsert.in_stock", "upsert.published"], ["change"], ["delete.item_id"],
    ]  # fmt: skip
    assert "future" in reply.outcomes[4].violations[0].description
    assert len(await catalog_since(nc, catalog_mark)) == 2


async def test_the_same_version_of_an_item_is_stored_once(
    api: pb_grpc.IngestionServiceStub, catalog_key: str, nc: NATS, catalog_mark: int
) -> None:
    at = h.now() - timedelta(minutes=5)
    knife = item_id()
    first = await publish(api, catalog_key, upsert(knife, at=at), upsert(knife, at=at))
    again = await publish(api, catalog_key, upsert(knife, at=at), upsert(knife, at=at + timedelta(seconds=1)))

    assert [o.status for o in first.outcomes] == [ACCEPTED, DUPLICATE]
    assert [o.status for o in again.outcomes] == [DUPLICATE, ACCEPTED]
    assert len({o.stream_sequence for o in [*first.outcomes, again.outcomes[0]]}) == 1
    assert len(await catalog_since(nc, catalog_mark)) == 2


async def test_a_request_needs_1_to_500_changes(api: pb_grpc.IngestionServiceStub, catalog_key: str) -> None:
    empty = await h.failure(publish(api, catalog_key))
    assert empty.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(h.field_violations(empty)) == {"changes"}
    many = await h.failure(publish(api, catalog_key, *[upsert(item_id()) for _ in range(501)]))
    assert many.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "500" in (many.details() or "")
