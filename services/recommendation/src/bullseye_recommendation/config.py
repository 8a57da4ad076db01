"""Recommendation's configuration: RECOMMENDATION_* variables, plus the shared NATS_URL and DATABASE_URL."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from bullseye_platform.clock import ClockSettings
from bullseye_platform.config import ConfigError, Duration, env
from bullseye_platform.service import ServiceConfig, WorkerSettings

from bullseye_recommendation.domain.blend import Blends
from bullseye_recommendation.domain.feedback import FeedbackWeights
from bullseye_recommendation.domain.variants import Variants

PREFIX = "RECOMMENDATION"
DAY = 86400.0
# The model author's measurements (README, Recommendation): the model alone ranks best for a
# person with a history; the product spec's hybrid is what a product page shows.
DEFAULT_BLENDS = (
    "default=collaborative:1;"
    "product-page=collaborative:0.4,content:0.3,popular:0.15,session:0.15;"
    "hybrid=collaborative:0.4,content:0.3,popular:0.15,session:0.15"
)


@dataclass(frozen=True, kw_only=True)
class RecommendationConfig(ServiceConfig, ClockSettings, WorkerSettings):
    prefix: ClassVar[str] = PREFIX
    grpc_port: int = env("GRPC_PORT", default=50054, help="gRPC port (0 = any free port)")
    schema: str = env("SCHEMA", default="recommendation", help="PostgreSQL schema for recommendation's tables")
    stream: str = env("STREAM", default="RECO", help="JetStream stream written (model published, impressions)")
    subject_prefix: str = env("SUBJECT_PREFIX", default="reco", help="subjects are <prefix>.<partition>.<kind>")
    identity_address: str = env(
        "IDENTITY_ADDRESS", default="", help="identity gRPC host:port (Recommend by identifier)"
    )
    identity_timeout: Duration = env("IDENTITY_TIMEOUT", default=Duration(2), help="deadline of a call to identity")
    resolved_stream: str = env("RESOLVED_STREAM", default="RESOLVED", help="JetStream stream of resolved events")
    resolved_subject_prefix: str = env("RESOLVED_SUBJECT_PREFIX", default="resolved", help="subjects of RESOLVED")
    resolved_partitions: int = env("RESOLVED_PARTITIONS", default=16, help="partitions of RESOLVED (as identity's)")
    catalog_stream: str = env("CATALOG_STREAM", default="CATALOG", help="JetStream stream of catalog changes")
    catalog_subject_prefix: str = env("CATALOG_SUBJECT_PREFIX", default="catalog", help="subjects of CATALOG")
    catalog_partitions: int = env("CATALOG_PARTITIONS", default=16, help="partitions of CATALOG (as ingestion's)")
    projection: bool = env(
        "PROJECTION",
        default=True,
        help="fold RESOLVED, CATALOG and RECO and relay the outbox here (one such process per deployment); "
        "false = serve RPCs only (replicas scaled by load)",
    )
    batch_size: int = env("BATCH_SIZE", default=1000, help="records folded per transaction")
    model_dir: str = env(
        "MODEL_DIR", help="where model versions are stored, a folder per version (shared by trainer and servers)"
    )
    spool_dir: str = env(
        "SPOOL_DIR",
        default="",
        help="where each serving process notes the impressions it has not written yet, so that a process that "
        "died is counted (must outlive the process: a pod's emptyDir); empty = <temp dir>/bullseye-<schema>-spool",
    )
    feedback_weights: FeedbackWeights = env(
        "FEEDBACK_WEIGHTS", default=FeedbackWeights(), help="weight per signal (view < wishlist < cart < purchase)"
    )
    popularity_half_life: Duration = env(
        "POPULARITY_HALF_LIFE", default=Duration(7 * DAY), help="popularity halves every (changing it: rebuild)"
    )
    history_length: int = env(
        "HISTORY_LENGTH", default=200, help="most recent items of a person's history a Recommend call reads"
    )
    blends: Blends = env("BLENDS", default=Blends.from_env(DEFAULT_BLENDS), help="parts' weights per placement")
    variants: Variants = env(
        "VARIANTS", default=Variants.from_env("control=1"), help="experiment arms and weights, e.g. control=1,hybrid=1"
    )
    consent_required: bool = env(
        "CONSENT_REQUIRED",
        default=False,
        help="personalize only persons who granted personalization; false = all but those who refused it",
    )
    gate_tolerance: float = env(
        "GATE_TOLERANCE", default=0.02, help="a model whose HR@10 or NDCG@10 is lower than the current's by more "
        "than this is refused (PublishModel force skips it)",
    )  # fmt: skip
    impression_batch: int = env("IMPRESSION_BATCH", default=500, help="impressions written to RECO per batch")
    impression_flush: Duration = env(
        "IMPRESSION_FLUSH", default=Duration(0.5), help="longest an impression waits to be written to RECO"
    )
    answer_cache_size: int = env(
        "ANSWER_CACHE_SIZE",
        default=20_000,
        help="rankings each serving process keeps until their person, the model or the catalog change; about "
        "2 kB each; 0 = off",
    )
    snapshot_interval: Duration = env(
        "SNAPSHOT_INTERVAL", default=Duration(2), help="least time between two reloads of the catalog and popularity"
    )
    model_poll: Duration = env(
        "MODEL_POLL", default=Duration(30), help="how often a serving process checks the registry (safety net)"
    )

    def spool(self) -> Path:
        return Path(self.spool_dir or Path(tempfile.gettempdir()) / f"bullseye-{self.schema}-spool")

    def __post_init__(self) -> None:
        ServiceConfig.__post_init__(self)
        ClockSettings.__post_init__(self)
        for name, value in (("HISTORY_LENGTH", self.history_length), ("IMPRESSION_BATCH", self.impression_batch)):
            if value < 1:
                raise ConfigError(f"{PREFIX}_{name}={value} must be at least 1")
        if self.gate_tolerance < 0:
            raise ConfigError(f"{PREFIX}_GATE_TOLERANCE={self.gate_tolerance} cannot be negative")
