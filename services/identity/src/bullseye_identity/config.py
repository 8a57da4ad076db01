"""Identity's configuration: IDENTITY_* variables, plus the shared NATS_URL, DATABASE_URL and keys."""

from __future__ import annotations

from dataclasses import dataclass

from bullseye_platform.config import Duration, env
from bullseye_platform.eventlog import Durability

PREFIX = "IDENTITY"


@dataclass(frozen=True)
class IdentityConfig:
    nats_url: str = env("!NATS_URL", help="NATS server URL, e.g. nats://127.0.0.1:4222")
    database_url: str = env("!DATABASE_URL", help="PostgreSQL DSN, e.g. postgresql://user@host:5432/bullseye")
    master_key: str = env(
        "!BULLSEYE_MASTER_KEY", help="base64 of 32 random bytes; wraps every data key (a Kubernetes Secret)"
    )
    hash_key: str = env(
        "!BULLSEYE_HASH_KEY", help="base64 of 32 random bytes; keys the hashes that match emails and phones"
    )
    grpc_port: int = env("GRPC_PORT", default=50052, help="gRPC port (0 = any free port)")
    metrics_port: int = env("METRICS_PORT", default=0, help="Prometheus /metrics port (0 = off)")
    schema: str = env("SCHEMA", default="identity", help="PostgreSQL schema for identity's tables")
    events_stream: str = env("EVENTS_STREAM", default="EVENTS", help="JetStream stream read")
    events_subject_prefix: str = env("EVENTS_SUBJECT_PREFIX", default="events", help="subjects of EVENTS")
    events_partitions: int = env("EVENTS_PARTITIONS", default=16, help="partitions of EVENTS (as ingestion's)")
    stream: str = env("STREAM", default="RESOLVED", help="JetStream stream written")
    subject_prefix: str = env("SUBJECT_PREFIX", default="resolved", help="subjects are <prefix>.<partition>.<kind>")
    partitions: int = env("PARTITIONS", default=16, help="partitions of RESOLVED (fixed once data exists)")
    durability: Durability = env(
        "!BULLSEYE_DURABILITY", default=Durability.STRICT, help="strict (1 replica, fsync) or replicated (3 replicas)"
    )
    duplicate_window: Duration = env(
        "DUPLICATE_WINDOW", default=Duration(600), help="repeats of a message id inside it are stored once"
    )
    batch_size: int = env("BATCH_SIZE", default=256, help="EVENTS records resolved per transaction")
    shutdown_grace: Duration = env("SHUTDOWN_GRACE", default=Duration(10), help="time for calls in flight at stop")
    drain_delay: Duration = env("DRAIN_DELAY", default=Duration(0), help="NOT_SERVING before stopping (k8s: ~5s)")
    log_level: str = env("LOG_LEVEL", default="info", help="debug, info, warning, error")
