"""Shared by the recommendation service tests: feeds the tests write, and a real recommendation process.

Identity and ingestion are not needed (but for the pipeline test): the tests write
ResolvedRecords (events attributed to persons, merges, splits) into a RESOLVED stream of
their own and CatalogRecords into a CATALOG stream of their own, exactly recommendation's
inputs, and read the results through its gRPC API.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import grpc
from bullseye.catalog.v1 import catalog_pb2 as cat
from bullseye.events.v1 import event_pb2 as ev
from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye.recommendation.v1 import recommendation_pb2_grpc as pb_grpc
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess
from bullseye_platform.eventlog import LogMessage, LogWriter, StreamSpec, ensure_stream, partition_of, subject_for
from google.protobuf.message import Message
from google.type import money_pb2
from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from tests import channels
from tests.conftest import service_env
from tests.platform.waiting import wait_until
from tests.profile.support import PARTITIONS, ResolvedFeed

START = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
# Tables whose content is the projection's result (what rebuild tests compare).
PROJECTED = (
    "items", "interactions", "person_items", "item_popularity", "interests", "consent_statements", "person_aliases",
    "attributions", "impressions", "lost_impressions",
)  # fmt: skip


def at(step: int) -> datetime:
    """The `step`-th minute after START: events in a known order."""
    return START + timedelta(minutes=step)


def event(when: datetime, *, event_id: str | None = None, recommendation_id: str = "", **payload: Message) -> ev.Event:
    """An event of the kind named by the one keyword (`product_viewed=ev.ProductViewed(...)`)."""
    built = ev.Event(event_id=event_id or f"e-{uuid.uuid4()}", identifiers=ev.Identifiers(anonymous_id="a"))
    built.occurred_at.FromDatetime(when)
    built.context.attribution.recommendation_id = recommendation_id
    for kind, message in payload.items():
        getattr(built, kind).CopyFrom(message)
    return built


def viewed(item: str, when: datetime, **kw: Any) -> ev.Event:
    return event(when, product_viewed=ev.ProductViewed(product_id=item), **kw)


def ordered(items: Sequence[str], when: datetime, *, order_id: str = "", **kw: Any) -> ev.Event:
    lines = [ev.LineItem(product_id=i, quantity=1) for i in items]
    order = ev.OrderCompleted(order_id=order_id or f"o-{uuid.uuid4()}", items=lines)
    return event(when, order_completed=order, **kw)


def consent(granted: bool, when: datetime, channel: int = ev.CONTACT_CHANNEL_ALL) -> ev.Event:
    choice = ev.ConsentChanged(purpose=ev.CONSENT_PURPOSE_PERSONALIZATION, channel=channel, granted=granted)
    return event(when, consent_changed=choice)


def eur(amount: float) -> money_pb2.Money:
    units = int(amount)
    return money_pb2.Money(currency_code="EUR", units=units, nanos=round((amount - units) * 1e9))


def item(item_id: str, path: str, *, brand: str = "", price: float = 10.0, in_stock: bool = True,
         published: bool = True, tags: Sequence[str] = (), title: str = "") -> cat.CatalogItem:  # fmt: skip
    return cat.CatalogItem(
        item_id=item_id, title=title or item_id, category_path=path.split("/"), brand=brand, price=eur(price),
        tags=tags, in_stock=in_stock, published=published,
    )  # fmt: skip


@dataclass
class CatalogFeed:
    """Writes CatalogRecords the way ingestion does (partitioned by item, msg id per version)."""

    nc: NATS
    spec: StreamSpec
    ends: dict[int, int] = field(default_factory=dict)

    async def upsert(self, *items: cat.CatalogItem, when: datetime = START) -> None:
        changes = []
        for given in items:
            version = cat.CatalogItem()
            version.CopyFrom(given)
            version.updated_at.FromDatetime(when)
            changes.append((given.item_id, "upserted", cat.CatalogChange(upsert=version), f"upsert:{given.item_id}"))
        await self._append(changes, when)

    async def delete(self, item_id: str, when: datetime) -> None:
        gone = cat.CatalogItemDeletion(item_id=item_id)
        gone.deleted_at.FromDatetime(when)
        await self._append([(item_id, "deleted", cat.CatalogChange(delete=gone), f"delete:{item_id}")], when)

    async def _append(self, changes: Sequence[tuple[str, str, cat.CatalogChange, str]], when: datetime) -> None:
        writer = LogWriter(self.nc)
        try:
            messages = []
            for item_id, kind, change, msg_id in changes:
                partition = partition_of(item_id, PARTITIONS)
                record = cat.CatalogRecord(change=change, source="test-feed")
                messages.append(
                    LogMessage(
                        subject=subject_for(self.spec.subject_prefix, partition, kind),
                        payload=record.SerializeToString(),
                        msg_id=f"{msg_id}@{when.isoformat()}",
                    )
                )
                self.ends.setdefault(partition, 0)  # raised below from the acks
            appended = await writer.append(messages)
        finally:
            await writer.close()
        for message, done in zip(messages, appended, strict=True):
            partition = int(message.subject.split(".")[1])
            self.ends[partition] = max(self.ends[partition], done.seq)


@dataclass
class RecommendationUnderTest:
    """A recommendation process on its own schema, reading its own RESOLVED and CATALOG streams."""

    service: ServiceProcess
    env: dict[str, str]
    schema: str
    events: ResolvedFeed
    catalog: CatalogFeed
    pool: asyncpg.Pool
    channel: grpc.aio.Channel
    model_dir: Path

    @property
    def api(self) -> pb_grpc.RecommendationServiceStub:
        return pb_grpc.RecommendationServiceStub(self.channel)

    async def caught_up(self, *, within: float = 60.0) -> None:
        """Until the projection's stored positions reach everything the feeds wrote."""
        await wait_until(self._reached_the_end, within=within, every=0.05)

    async def _reached_the_end(self) -> bool:
        assert self.service.proc is not None and self.service.proc.poll() is None, "recommendation died"
        rows = await self.pool.fetch(
            "SELECT stream, partition, stream_seq FROM projection_positions WHERE projection = 'recommendation'"
        )
        reached = {(r["stream"], r["partition"]): r["stream_seq"] for r in rows}
        return all(
            reached.get((feed.spec.name, p), 0) >= end
            for feed in (self.events, self.catalog)
            for p, end in feed.ends.items()
        )

    async def shows(self, items: int, *, within: float = 30.0) -> None:
        """Until the serving process's catalog (reloaded on the projection's notice) has `items` items."""

        async def loaded() -> bool:
            response = await self.api.Popular(pb.PopularRequest(k=100, filters=pb.Filters(exclude_out_of_stock=False)))
            return len(response.items) >= items

        await wait_until(loaded, within=within, every=0.05)

    async def settled(self, nc: NATS, *, within: float = 60.0) -> None:
        """Until the projection also reached the end of RECO (the impressions this process wrote)."""
        reco, prefix = self.env["RECOMMENDATION_STREAM"], self.env["RECOMMENDATION_SUBJECT_PREFIX"]

        async def reached() -> bool:
            rows = await self.pool.fetch(
                "SELECT partition, stream_seq FROM projection_positions WHERE projection = 'recommendation' "
                "AND stream = $1", reco,
            )  # fmt: skip
            positions = {r["partition"]: r["stream_seq"] for r in rows}
            for partition in range(PARTITIONS):
                try:
                    last = await nc.jetstream().get_last_msg(reco, f"{prefix}.{partition}.>")
                except NotFoundError:
                    continue
                if positions.get(partition, 0) < (last.seq or 0):
                    return False
            return True

        await self.caught_up(within=within)
        await wait_until(reached, within=within, every=0.05)

    async def restart(self, **settings: str) -> None:
        """The process again (stopped, or killed before), on the same schema, streams and storage."""
        await asyncio.to_thread(self.service.stop)
        self.env = {**self.env, **settings}
        self.service = ServiceProcess("recommendation", "bullseye_recommendation", self.env, self.service.log_dir)
        await asyncio.to_thread(self.service.start)
        await self.channel.close()
        self.channel = channels.channel(self.service.address)

    async def recommend(self, person_id: str, k: int = 5, **fields: Any) -> pb.RecommendResponse:
        response: pb.RecommendResponse = await self.api.Recommend(
            pb.RecommendRequest(person_id=person_id, k=k, **fields)
        )
        return response

    async def table_hash(self, tables: Sequence[str] = PROJECTED) -> str:
        """A digest of the tables' rows in a canonical order (what rebuild tests compare)."""
        digest = hashlib.sha256()
        for table in tables:
            for row in await self.pool.fetch(f"SELECT t::text AS row FROM {table} t ORDER BY t::text"):
                digest.update(row["row"].encode() + b"\n")
        return digest.hexdigest()

    async def train(
        self, *arguments: str, program: Sequence[str] = ("bullseye_recommendation", "train")
    ) -> dict[str, Any]:
        """The real `train` command with this process's environment (or the console script's
        `--projection` form, by `program`); its JSON outcome."""
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", *program, *arguments],
            env={**os.environ, **self.env}, capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode in (0, 3), done.stderr
        outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return outcome

    async def serving(self, version: str, *, within: float = 60.0) -> None:
        """Until the process ranks with `version` (it swapped to it). SimilarItems names the
        current model for any catalog item; a Recommend answer names none for a person it may
        not personalize for or knows nothing of, and any person might be one."""
        last = ["none finished"]  # what the process answered, for a report of the wait that failed

        async def swapped() -> bool:
            item = await self.pool.fetchval("SELECT item_id FROM items WHERE NOT deleted ORDER BY item_id LIMIT 1")
            try:
                reply = await self.api.SimilarItems(pb.SimilarItemsRequest(item_id=item or "none", k=1), timeout=10)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:  # not in the process's catalog snapshot yet
                    last[0] = f"{item!r} not in its catalog"
                    return False
                if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:  # said apart: a call that hangs
                    last[0] = "no answer within 10 s"
                    return False
                raise
            last[0] = f"it served model {reply.model_version!r}"
            return reply.model_version == version

        try:
            await wait_until(swapped, within=within, every=0.1)
        except TimeoutError as exc:  # what the process did instead, for the report
            said = "\n".join(self.service.complaints())
            raise TimeoutError(f"{exc}; last try: {last[0]}; its warnings and errors:\n{said}") from None


async def streams(nc: NATS, token: str) -> tuple[StreamSpec, StreamSpec]:
    resolved = StreamSpec(name=f"RESOLVED_{token.upper()}", subject_prefix=f"resolved{token}")
    catalog = StreamSpec(name=f"CATALOG_{token.upper()}", subject_prefix=f"catalog{token}")
    for spec in (resolved, catalog):
        await ensure_stream(nc.jetstream(), spec)
    return resolved, catalog


def recommendation_env(
    nats_server: NatsServer, postgres: PostgresServer, root: Path, *, token: str, resolved: StreamSpec,
    catalog: StreamSpec, **extra: str,
) -> dict[str, str]:  # fmt: skip
    """Its own schema, RECO, storage and spool, the given streams; `extra` wins over all of it."""
    own = {
        "RECOMMENDATION_SCHEMA": f"recommendation_{token}", "RECOMMENDATION_MODEL_DIR": str(root / "models"),
        "RECOMMENDATION_SPOOL_DIR": str(root / "spool"), "RECOMMENDATION_STREAM": f"RECO_{token.upper()}",
        "RECOMMENDATION_SUBJECT_PREFIX": f"reco{token}", "RECOMMENDATION_PARTITIONS": str(PARTITIONS),
        "RECOMMENDATION_RESOLVED_STREAM": resolved.name,
        "RECOMMENDATION_RESOLVED_SUBJECT_PREFIX": resolved.subject_prefix,
        "RECOMMENDATION_RESOLVED_PARTITIONS": str(PARTITIONS), "RECOMMENDATION_CATALOG_STREAM": catalog.name,
        "RECOMMENDATION_CATALOG_SUBJECT_PREFIX": catalog.subject_prefix,
        "RECOMMENDATION_CATALOG_PARTITIONS": str(PARTITIONS), "RECOMMENDATION_SNAPSHOT_INTERVAL": "0.2",
        "RECOMMENDATION_IMPRESSION_FLUSH": "0.2", "RECOMMENDATION_MODEL_POLL": "2", "RECOMMENDATION_METRICS_PORT": "0",
    }  # fmt: skip
    return service_env(nats_server, postgres, **{**own, **extra})


async def start_recommendation(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, root: Path, **extra: str
) -> RecommendationUnderTest:
    """A recommendation process with its own schema, streams, model storage and spool, configured by
    `extra` (RECOMMENDATION_* variables)."""
    token = uuid.uuid4().hex[:8]
    resolved, catalog = await streams(nc, token)
    folder = root / token
    env = recommendation_env(nats_server, postgres, folder, token=token, resolved=resolved, catalog=catalog, **extra)
    process = ServiceProcess("recommendation", "bullseye_recommendation", env, folder / "logs")
    service = await asyncio.to_thread(process.start)
    schema = env["RECOMMENDATION_SCHEMA"]
    pool = await asyncpg.create_pool(postgres.dsn, min_size=1, max_size=2, server_settings={"search_path": schema})
    assert pool is not None
    return RecommendationUnderTest(
        service, env, schema, ResolvedFeed(nc, resolved), CatalogFeed(nc, catalog), pool,
        channels.channel(service.address), folder / "models",
    )  # fmt: skip


async def stop_recommendation(running: RecommendationUnderTest) -> None:
    await running.channel.close()
    await running.pool.close()
    await asyncio.to_thread(running.service.stop)
