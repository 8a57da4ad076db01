"""Identity's configuration: IDENTITY_* variables, plus the shared NATS_URL, DATABASE_URL and keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bullseye_platform.config import Duration, env
from bullseye_platform.service import ServiceConfig, WorkerSettings

from bullseye_identity.domain.policy import Policy

PREFIX = "IDENTITY"


@dataclass(frozen=True, kw_only=True)
class IdentityConfig(ServiceConfig, WorkerSettings):
    prefix: ClassVar[str] = PREFIX
    master_key: str = env(
        "!BULLSEYE_MASTER_KEY",
        help="base64 of 32 random bytes; wraps every data key (a Kubernetes Secret)",
        secret=True,
    )
    hash_key: str = env(
        "!BULLSEYE_HASH_KEY",
        help="base64 of 32 random bytes; keys the hashes that match emails and phones",
        secret=True,
    )
    grpc_port: int = env("GRPC_PORT", default=50052, help="gRPC port (0 = any free port)")
    schema: str = env("SCHEMA", default="identity", help="PostgreSQL schema for identity's tables")
    events_stream: str = env("EVENTS_STREAM", default="EVENTS", help="JetStream stream read")
    events_subject_prefix: str = env("EVENTS_SUBJECT_PREFIX", default="events", help="subjects of EVENTS")
    events_partitions: int = env("EVENTS_PARTITIONS", default=16, help="partitions of EVENTS (as ingestion's)")
    stream: str = env("STREAM", default="RESOLVED", help="JetStream stream written")
    subject_prefix: str = env("SUBJECT_PREFIX", default="resolved", help="subjects are <prefix>.<partition>.<kind>")
    batch_size: int = env("BATCH_SIZE", default=256, help="EVENTS records resolved per transaction")
    resolver: bool = env(
        "RESOLVER",
        default=True,
        help="be a candidate for resolution (EVENTS -> graph -> RESOLVED): the candidate holding the "
        "resolver's lock (a PostgreSQL advisory lock) resolves, the others stand by; false = answer RPCs only",
    )
    consumer: str = env(
        "CONSUMER", default="identity", help="durable consumer name on EVENTS (and the projection's name)"
    )
    priority: tuple[str, ...] = env(
        "PRIORITY",
        default=("user_id", "loyalty_id", "email", "phone", "device_id", "anonymous_id"),
        help="identifier types, highest priority first: the event belongs to its highest one's person",
    )
    limits: tuple[str, ...] = env(
        "LIMITS",
        default=("user_id=1", "loyalty_id=3", "email=5", "phone=3", "device_id=10", "anonymous_id=100"),
        help="most identifiers of a type one person may have; a merge or link past it is refused",
    )
    blocked_values: tuple[str, ...] = env(
        "BLOCKED_VALUES",
        default=(),
        help="placeholders never used to link, besides the built-in ones (case-insensitive; '*' matches any "
        "text, e.g. 'noemail@*')",
    )
    max_persons_per_value: int = env(
        "MAX_PERSONS_PER_VALUE",
        default=5,
        help="an identifier seen with more persons (in refused links, or joining persons in events without a "
        "user id) is marked shared, and the merges made only through it are undone",
    )
    weak_single_types: tuple[str, ...] = env(
        "WEAK_SINGLE_TYPES",
        default=("email", "phone"),
        help="identifier types an event without a user id never brings together: a second email or phone joins "
        "a person only through a login; the device that tried is marked shared",
    )
    ingestion_address: str = env(
        "INGESTION_ADDRESS",
        default="127.0.0.1:50051",
        help="ingestion's gRPC host:port: Merge and Split record their command in EVENTS through it",
    )
    ingestion_timeout: Duration = env(
        "INGESTION_TIMEOUT", default=Duration(5), help="deadline of AppendCorrections (within the call's own)"
    )
    correction_wait: Duration = env(
        "CORRECTION_WAIT",
        default=Duration(20),
        help="how long a Merge or Split without a deadline waits for the resolver to apply it (UNAVAILABLE after)",
    )
    correction_poll: Duration = env(
        "CORRECTION_POLL", default=Duration(1), help="a waiting Merge or Split looks again this often (besides NOTIFY)"
    )

    def policy(self) -> Policy:
        """The resolution rules these settings describe."""
        return Policy.parse(
            priority=self.priority,
            limits=self.limits,
            blocked=self.blocked_values,
            max_persons_per_value=self.max_persons_per_value,
            weak_single=self.weak_single_types,
        )

    def __post_init__(self) -> None:
        super().__post_init__()
        # Malformed rules stop start-up like a malformed variable: ConfigError, naming it.
        self.policy()
