"""Recommend, SimilarItems and Popular: the reading RPCs.

Recommend names its person by id or by an identifier (identity's Resolve; an identifier
identity never saw is a new shopper: a cold start, not an error), reads what it needs of the
person in one round trip (serving/people.py), picks the variant (the request's, or the
person's stable arm) and the blend, ranks, and hands the impression to the batch writer
before it answers: the answer never waits for RECO.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import grpc
from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye_platform.clock import Clock
from bullseye_platform.grpc.errors import NotFound

from bullseye_recommendation.adapters.identity_client import IdentityClient
from bullseye_recommendation.api import convert, validation
from bullseye_recommendation.domain.blend import Blends
from bullseye_recommendation.domain.variants import Variants
from bullseye_recommendation.serving.asks import UnknownCategory, UnknownItems
from bullseye_recommendation.serving.impressions import ImpressionWriter
from bullseye_recommendation.serving.instruments import RecommendationInstruments
from bullseye_recommendation.serving.people import NOBODY, Person, read_person
from bullseye_recommendation.serving.recommender import Recommender

Context = grpc.aio.ServicerContext[Any, Any]


class ReadingRpcs:
    _pool: asyncpg.Pool
    _clock: Clock
    _identity: IdentityClient
    _recommender: Recommender
    _blends: Blends
    _variants: Variants
    _impressions: ImpressionWriter
    _instruments: RecommendationInstruments
    _history_length: int

    async def Recommend(self, request: pb.RecommendRequest, context: Context) -> pb.RecommendResponse:
        ask = validation.recommend_ask(request, self._variants.names)
        person, unit = await self._person(request)
        variant = request.variant or self._variants.assign(unit)
        _, blend = self._blends.choose(ask.placement, variant)
        try:
            answer = self._recommender.recommend(person, ask, blend)
        except UnknownItems as exc:
            raise NotFound(f"{exc.field}: no such item in the catalog: {', '.join(exc.item_ids[:5])}",
                           reason="ITEM_NOT_FOUND") from exc  # fmt: skip
        recommendation_id = str(uuid.uuid4())
        self._impressions.record(convert.served(
            answer, recommendation_id=recommendation_id, person_id=person.person_id, variant=variant,
            placement=ask.placement, at=self._clock.now(),
        ))  # fmt: skip
        self._instruments.served(answer.path)
        return pb.RecommendResponse(
            items=convert.items(answer), recommendation_id=recommendation_id, model_version=answer.model_version,
            variant=variant, person_id=person.person_id,
        )  # fmt: skip

    async def _person(self, request: pb.RecommendRequest) -> tuple[Person, str]:
        """The person asked for, and the unit their variant is drawn for (a shopper identity
        does not know yet keeps one by their identifier)."""
        if request.WhichOneof("person") == "person_id":
            person_id: str | None = request.person_id
        else:
            person_id = await self._identity.person_of(request.identifier)
        if person_id is None:
            return NOBODY, f"{request.identifier.type}:{request.identifier.value}"
        person = await read_person(self._pool, person_id, limit=self._history_length)
        return person, person.person_id

    async def SimilarItems(self, request: pb.SimilarItemsRequest, context: Context) -> pb.SimilarItemsResponse:
        validation.check_similar(request)
        try:
            answer = self._recommender.similar(request.item_id, request.k, validation.filters(request.filters))
        except UnknownItems as exc:
            raise NotFound(f"no item {request.item_id!r} in the catalog", reason="ITEM_NOT_FOUND") from exc
        return pb.SimilarItemsResponse(items=convert.items(answer), model_version=answer.model_version)

    async def Popular(self, request: pb.PopularRequest, context: Context) -> pb.PopularResponse:
        validation.check_popular(request)
        try:
            answer = self._recommender.popular(request.category, request.k, validation.filters(request.filters))
        except UnknownCategory as exc:
            raise NotFound(f"no catalog item is in the category {request.category!r}",
                           reason="CATEGORY_NOT_FOUND") from exc  # fmt: skip
        return pb.PopularResponse(items=convert.items(answer))
