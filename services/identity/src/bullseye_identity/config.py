"""Identity's configuration: IDENTITY_* variables, plus the shared NATS_URL, DATABASE_URL and keys."""

from __future__ import annotations

from dataclasses import dataclass

from bullseye_platform.config import Duration, env
from bullseye_platform.eventlog import Durability

from bullseye_identity.domain.policy import Policy

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
    key_client_token: str = env(
        "KEY_CLIENT_TOKEN",
        default="",
        help="when set, IssueDataKeys needs metadata x-service-token equal to it (a Kubernetes Secret)",
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
    resolver: bool = env(
        "RESOLVER",
        default=True,
        help="run resolution (EVENTS -> graph -> RESOLVED) here; exactly one process per deployment, "
        "other replicas answer RPCs only",
    )
    consumer: str = env(
        "CONSUMER", default="identity", help="durable consumer name on EVENTS (and the projection's name)"
    )
    priority: tuple[str, ...] = env(
        "PRIORITY",
        default=("user_id", "email", "phone", "device_id", "anonymous_id"),
        help="identifier types, highest priority first: the event belongs to its highest one's person",
    )
    limits: tuple[str, ...] = env(
        "LIMITS",
        default=("user_id=1", "email=5", "phone=3", "device_id=10", "anonymous_id=100"),
        help="most identifiers of a type one person may have; a merge or link past it is refused",
    )
    blocked_values: tuple[str, ...] = env(
        "BLOCKED_VALUES", default=(), help="extra identifier values never used to link (case-insensitive)"
    )
    max_persons_per_value: int = env(
        "MAX_PERSONS_PER_VALUE", default=5, help="an identifier in conflicts of more persons is blocked"
    )
    shutdown_grace: Duration = env("SHUTDOWN_GRACE", default=Duration(10), help="time for calls in flight at stop")
    drain_delay: Duration = env("DRAIN_DELAY", default=Duration(0), help="NOT_SERVING before stopping (k8s: ~5s)")
    log_level: str = env("LOG_LEVEL", default="info", help="debug, info, warning, error")

    def policy(self) -> Policy:
        """The resolution rules these settings describe."""
        return Policy.parse(
            priority=self.priority,
            limits=self.limits,
            blocked=self.blocked_values,
            max_persons_per_value=self.max_persons_per_value,
        )

    def __post_init__(self) -> None:
        # Malformed rules stop start-up like a malformed variable: ConfigError, naming it.
        self.policy()
