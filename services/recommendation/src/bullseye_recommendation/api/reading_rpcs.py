"""Recommend, SimilarItems and Popular: the reading RPCs.

Recommend names its person by id or by an identifier (identity's Resolve; an identifier
identity never saw is a new shopper: a cold start, not an error), picks the variant (the
request's, or the person's stable arm) and the blend, and ranks: from the process's cache
when the same request was answered and nothing it was made from changed (serving/answers.py),
else from what it reads of the person in one round trip (serving/people.py). Every answer
gets its own recommendation id, and its impression goes to the batch writer before it is
sent: the answer never waits for RECO.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import grpc
from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye_platform.clock import Clock
from bullseye_platform.grpc.errors import NotFound
from bullseye_platform.resolver import Resolver

from bullseye_recommendation.api import convert, validation
from bullseye_recommendation.domain.blend import Blend, Blends
from bullseye_recommendation.domain.variants import Variants
from bullseye_recommendation.serving.answers import AnswerCache
from bullseye_recommendation.serving.asks import Ask, UnknownCategory, UnknownItems
from bullseye_recommendation.serving.impressions import ImpressionWriter
from bullseye_recommendation.serving.instruments import RecommendationInstruments
from bullseye_recommendation.serving.people import NOBODY, read_person
from bullseye_recommendation.serving.recommender import Recommender

Context = grpc.aio.ServicerContext[Any, Any]


class ReadingRpcs:
    _pool: asyncpg.Pool
    _clock: Clock
    _identity: Resolver
    _recommender: Recommender
    _blends: Blends
    _variants: Variants
    _impressions: ImpressionWriter
    _answers: AnswerCache[convert.Rendered]
    _instruments: RecommendationInstruments
    _history_length: int

    async def Recommend(self, request: pb.RecommendRequest, context: Context) -> pb.RecommendResponse:
        ask = validation.recommend_ask(request, self._variants.names)
        person_id, unit = await self._who(request)
        variant = request.variant or self._variants.assign(unit)
        name, blend = self._blends.choose(ask.placement, variant)
        try:
            rendered = await self._rank(person_id, ask, name, blend)
        except UnknownItems as exc:
            raise NotFound(f"{exc.field}: no such item in the catalog: {', '.join(exc.item_ids[:5])}",
                           reason="ITEM_NOT_FOUND") from exc  # fmt: skip
        recommendation_id, answer = str(uuid.uuid4()), rendered.answer
        self._impressions.record(rendered.impression(recommendation_id=recommendation_id, variant=variant,
                                                     placement=ask.placement, at=self._clock.now()))  # fmt: skip
        self._instruments.served(answer.path)
        return rendered.response(recommendation_id=recommendation_id, variant=variant)

    async def _who(self, request: pb.RecommendRequest) -> tuple[str | None, str]:
        """The person asked for (None: a shopper identity does not know yet), and the unit their
        variant is drawn for (such a shopper keeps one by their identifier)."""
        if request.WhichOneof("person") == "person_id":
            return request.person_id, request.person_id
        found = await self._identity.person_of(request.identifier)
        return found, found or f"{request.identifier.type}:{request.identifier.value}"

    async def _rank(self, person_id: str | None, ask: Ask, name: str, blend: Blend) -> convert.Rendered:
        """The ranking, from this process's cache when nothing it was made from changed since."""
        if person_id is None:
            return convert.Rendered.of(self._recommender.recommend(NOBODY, ask, blend))
        # A re-ranked list (search results, an evaluation) is rarely asked again, and its
        # candidates would make the key as large as the answer: not kept.
        kept = None if ask.candidates else self._answers.get((person_id, ask, name), self._recommender.basis())
        if kept is not None:
            return kept
        key, since = (person_id, ask, name), self._answers.epoch
        person = await read_person(self._pool, person_id, limit=self._history_length)
        basis = self._recommender.basis()  # the ranking below is made from it, without a pause
        rendered = convert.Rendered.of(self._recommender.recommend(person, ask, blend))
        if not ask.candidates:
            self._answers.put(key, rendered, basis=basis, persons={person_id, person.person_id}, since=since)
        return rendered

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
