"""Ingestion's configuration: INGESTION_* variables, plus the shared NATS_URL and DATABASE_URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bullseye_platform.config import Duration, env
from bullseye_platform.eventlog import StreamSpec
from bullseye_platform.service import ServiceConfig

PREFIX = "INGESTION"


@dataclass(frozen=True, kw_only=True)
class IngestionConfig(ServiceConfig):
    prefix: ClassVar[str] = PREFIX
    grpc_port: int = env("GRPC_PORT", default=50051, help="gRPC port (0 = any free port)")
    schema: str = env("SCHEMA", default="ingestion", help="PostgreSQL schema for ingestion's tables")
    stream: str = env("STREAM", default="EVENTS", help="JetStream stream written")
    subject_prefix: str = env("SUBJECT_PREFIX", default="events", help="subjects are <prefix>.<partition>.<type>")
    stream_max_age: Duration = env("STREAM_MAX_AGE", default=Duration(0), help="retention of EVENTS (0 = forever)")
    max_batch_events: int = env("MAX_BATCH_EVENTS", default=500, help="events per request")
    max_event_bytes: int = env("MAX_EVENT_BYTES", default=32 * 1024, help="serialized bytes per event")
    max_request_bytes: int = env("MAX_REQUEST_BYTES", default=1024 * 1024, help="serialized bytes per request")
    future_tolerance: Duration = env(
        "FUTURE_TOLERANCE", default=Duration(300), help="how far in the future occurred_at may be"
    )
    live_window: Duration = env(
        "LIVE_WINDOW", default=Duration(7 * 86400), help="older events need backfill=true and the backfill scope"
    )
    key_cache_ttl: Duration = env("KEY_CACHE_TTL", default=Duration(10), help="API key cache; revocation delay")
    identity_address: str = env(
        "IDENTITY_ADDRESS", default="127.0.0.1:50052", help="identity's gRPC host:port (issues the data keys)"
    )
    identity_timeout: Duration = env("IDENTITY_TIMEOUT", default=Duration(2), help="deadline of IssueDataKeys")
    data_key_cache_ttl: Duration = env(
        "DATA_KEY_CACHE_TTL", default=Duration(300), help="data keys kept in memory; a shredded key's last use"
    )
    data_key_cache_size: int = env("DATA_KEY_CACHE_SIZE", default=100_000, help="most data keys kept in memory")
    publish_batch: int = env("PUBLISH_BATCH", default=500, help="most events per atomic JetStream batch")
    publish_in_flight: int = env("PUBLISH_IN_FLIGHT", default=4, help="atomic batches awaiting ack at once")
    catalog_stream: str = env("CATALOG_STREAM", default="CATALOG", help="JetStream stream of catalog changes")
    catalog_subject_prefix: str = env(
        "CATALOG_SUBJECT_PREFIX", default="catalog", help="subjects are <prefix>.<partition of item_id>.<kind>"
    )
    catalog_partitions: int = env(
        "CATALOG_PARTITIONS", default=16, help="partitions of CATALOG (fixed once data exists)"
    )

    def catalog_spec(self) -> StreamSpec:
        """CATALOG: the catalog feeds' changes, owned by ingestion like EVENTS (docs/design.md D2)."""
        return self.owned_stream(
            name=self.catalog_stream, subject_prefix=self.catalog_subject_prefix, max_msg_size=self.max_event_bytes * 2
        )
