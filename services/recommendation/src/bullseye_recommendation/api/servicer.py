"""RecommendationService: the reading, admin and report RPCs, served as one gRPC service."""

from __future__ import annotations

import asyncpg
from bullseye.recommendation.v1 import recommendation_pb2_grpc
from bullseye_platform.clock import Clock
from bullseye_platform.resolver import Resolver

from bullseye_recommendation.api import convert
from bullseye_recommendation.api.admin_rpcs import AdminRpcs
from bullseye_recommendation.api.reading_rpcs import ReadingRpcs
from bullseye_recommendation.api.report_rpcs import ReportRpcs
from bullseye_recommendation.config import RecommendationConfig
from bullseye_recommendation.registry.registry import Registry
from bullseye_recommendation.serving.answers import AnswerCache
from bullseye_recommendation.serving.impressions import ImpressionWriter
from bullseye_recommendation.serving.instruments import RecommendationInstruments
from bullseye_recommendation.serving.recommender import Recommender


class RecommendationServicer(ReadingRpcs, AdminRpcs, ReportRpcs, recommendation_pb2_grpc.RecommendationServiceServicer):
    def __init__(
        self, *, pool: asyncpg.Pool, config: RecommendationConfig, clock: Clock, identity: Resolver,
        recommender: Recommender, registry: Registry, impressions: ImpressionWriter,
        instruments: RecommendationInstruments, answers: AnswerCache[convert.Rendered],
    ) -> None:  # fmt: skip
        self._pool, self._clock, self._identity, self._answers = pool, clock, identity, answers
        self._recommender, self._registry, self._impressions = recommender, registry, impressions
        self._instruments = instruments
        self._blends, self._variants, self._history_length = config.blends, config.variants, config.history_length
