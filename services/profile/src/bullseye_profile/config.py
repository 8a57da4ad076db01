"""Profile's configuration: PROFILE_* variables, plus the shared NATS_URL and DATABASE_URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bullseye_platform.clock import ClockSettings
from bullseye_platform.config import ConfigError, Duration, env
from bullseye_platform.projection import deal
from bullseye_platform.service import ServiceConfig, WorkerSettings

PREFIX = "PROFILE"
DAY = 86400.0


@dataclass(frozen=True, kw_only=True)
class ProfileConfig(ServiceConfig, ClockSettings, WorkerSettings):
    prefix: ClassVar[str] = PREFIX
    grpc_port: int = env("GRPC_PORT", default=50053, help="gRPC port (0 = any free port)")
    schema: str = env("SCHEMA", default="profile", help="PostgreSQL schema for profile's tables")
    identity_address: str = env(
        "IDENTITY_ADDRESS", default="", help="identity gRPC host:port (GetProfile by identifier)"
    )
    identity_timeout: Duration = env("IDENTITY_TIMEOUT", default=Duration(2), help="deadline of a call to identity")
    resolved_stream: str = env("RESOLVED_STREAM", default="RESOLVED", help="JetStream stream read")
    resolved_subject_prefix: str = env("RESOLVED_SUBJECT_PREFIX", default="resolved", help="subjects of RESOLVED")
    resolved_partitions: int = env("RESOLVED_PARTITIONS", default=16, help="partitions of RESOLVED (as identity's)")
    worker_partitions: str = env(
        "WORKER_PARTITIONS",
        default="",
        help="RESOLVED partitions this process folds, e.g. '0-7' or '0,2,4' (processes split them); empty = all",
    )
    worker_count: int = env(
        "WORKER_COUNT",
        default=0,
        help="workers splitting the RESOLVED partitions by ordinal (a StatefulSet's replicas), each folding its "
        "contiguous share; 0 = PROFILE_WORKER_PARTITIONS says",
    )
    worker_ordinal: str = env(
        "WORKER_ORDINAL",
        default="",
        help="this worker's ordinal among PROFILE_WORKER_COUNT: a number, or a pod name ending in -<n>",
    )
    projection: bool = env(
        "PROJECTION",
        default=True,
        help="fold RESOLVED and run the durable jobs (RFM schedule, segment recomputes, outbox relay) here; "
        "false = serve RPCs only (replicas scaled by load)",
    )
    stream: str = env("STREAM", default="PROFILE", help="JetStream stream written (segment facts)")
    subject_prefix: str = env("SUBJECT_PREFIX", default="profile", help="subjects are <prefix>.<partition>.<kind>")
    batch_size: int = env("BATCH_SIZE", default=500, help="RESOLVED records folded per transaction")
    # A replay is all catching up: a batch costs a dozen round trips whatever its size, so bigger
    # ones cut the CPU per record (measured: ~90 us at 500, ~55 us at 2,000). Below the
    # consumers' max_ack_pending (2,048).
    replay_batch_size: int = env(
        "REPLAY_BATCH_SIZE", default=2000, help="RESOLVED records folded per transaction while a rebuild replays"
    )
    consumer: str = env(
        "CONSUMER",
        default="profile",
        help="what the durable consumers on RESOLVED are named after: two profile deployments reading one "
        "RESOLVED stream (e.g. a second schema) need different names",
    )
    readers: int = env(
        "READERS",
        default=1,
        help="consumers the owned partitions are dealt to, each folding its batches concurrently: 1 gives the "
        "fullest batches and the freshest segments; more overlap round trips when catching up",
    )
    read_cache_size: int = env(
        "READ_CACHE_SIZE",
        default=50_000,
        help="GetProfile bases kept in the process, dropped on change (NOTIFY); about 1 kB each; 0 = off",
    )
    rfm_interval: Duration = env("RFM_INTERVAL", default=Duration(DAY), help="time between scheduled RFM recomputes")
    job_poll: Duration = env(
        "JOB_POLL",
        default=Duration(5),
        help="longest wait of the job worker (RFM, segment recomputes) between looks "
        "at its queues when no notification woke it",
    )
    new_within: Duration = env("NEW_WITHIN", default=Duration(30 * DAY), help="lifecycle: first seen within = new")
    stable_orders: int = env("STABLE_ORDERS", default=3, help="lifecycle: orders from which an active is stable")
    dormant_after: Duration = env("DORMANT_AFTER", default=Duration(60 * DAY), help="lifecycle: inactive for = dormant")
    churned_after: Duration = env(
        "CHURNED_AFTER", default=Duration(180 * DAY), help="lifecycle: inactive for = churned"
    )
    default_purchase_gap: Duration = env(
        "DEFAULT_PURCHASE_GAP", default=Duration(30 * DAY), help="churn risk: cadence assumed with < 2 orders"
    )
    affinity_half_life: Duration = env(
        "AFFINITY_HALF_LIFE", default=Duration(30 * DAY), help="category/brand interest halves every"
    )
    price_bands: tuple[float, ...] = env(
        "PRICE_BANDS", default=(20.0, 100.0, 500.0), help="mean unit price limits of low, mid, high (above: premium)"
    )
    cart_abandon_after: Duration = env(
        "CART_ABANDON_AFTER", default=Duration(3600), help="a cart add without an order this long after = abandoned"
    )

    def owned_partitions(self) -> tuple[int, ...]:
        """The RESOLVED partitions this process projects: several processes split them, each
        running the projection for its own (the RPCs and durable workers run in all of them)."""
        if self.worker_count:
            if self.worker_partitions.strip():
                raise ConfigError("PROFILE_WORKER_PARTITIONS and PROFILE_WORKER_COUNT: set one, not both")
            return share_of(self.worker_ordinal, self.worker_count, self.resolved_partitions)
        if not self.worker_partitions.strip():
            return tuple(range(self.resolved_partitions))
        return parse_partitions(self.worker_partitions, self.resolved_partitions)

    def __post_init__(self) -> None:
        # Both bases check their variables; neither calls the other (they are independent).
        ServiceConfig.__post_init__(self)
        ClockSettings.__post_init__(self)
        # A malformed list stops start-up like a malformed variable: ConfigError, naming it.
        self.owned_partitions()


def share_of(ordinal: str, workers: int, count: int) -> tuple[int, ...]:
    """The contiguous share of partitions 0..count-1 of worker `ordinal` among `workers`.

    A StatefulSet's pods are named <name>-0 ... <name>-(N-1), so with N workers the shares
    cover every partition exactly once: no partition without an owner, none with two
    (while the pods run the same N; see deploy/README.md for changing it).
    """
    if not 0 < workers <= count:
        raise ConfigError(f"PROFILE_WORKER_COUNT={workers} must be between 1 and the {count} partitions")
    digits = ordinal.strip().rsplit("-", 1)[-1]
    if not (digits.isascii() and digits.isdigit()):  # int() refuses some digits, e.g. '²'
        raise ConfigError(f"PROFILE_WORKER_ORDINAL={ordinal!r} is not a number or a pod name ending in -<n>")
    if int(digits) >= workers:
        raise ConfigError(f"PROFILE_WORKER_ORDINAL={ordinal!r} is not below PROFILE_WORKER_COUNT={workers}")
    return tuple(deal(range(count), workers)[int(digits)])


def parse_partitions(raw: str, count: int) -> tuple[int, ...]:
    """'0-3,8,10-11' -> (0, 1, 2, 3, 8, 10, 11); every number must be a partition below `count`."""
    owned: set[int] = set()
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        first, _, last = part.partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise ConfigError(f"PROFILE_WORKER_PARTITIONS: {part!r} is not a number or a range like 0-7") from None
        if not 0 <= low <= high < count:
            raise ConfigError(
                f"PROFILE_WORKER_PARTITIONS: {part!r} is outside partitions 0-{count - 1} (PROFILE_RESOLVED_PARTITIONS)"
            )
        owned.update(range(low, high + 1))
    if not owned:
        raise ConfigError("PROFILE_WORKER_PARTITIONS: names no partition")
    return tuple(sorted(owned))
