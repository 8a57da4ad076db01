"""ListModels, PublishModel, RollbackModel: the model registry's admin RPCs (registry/)."""

from __future__ import annotations

from typing import Any

import grpc
from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye_platform.grpc.errors import FailedPrecondition, NotFound

from bullseye_recommendation.api import convert, validation
from bullseye_recommendation.registry.entries import Refused, UnknownVersion
from bullseye_recommendation.registry.registry import Publication, Registry

Context = grpc.aio.ServicerContext[Any, Any]


class AdminRpcs:
    _registry: Registry

    async def ListModels(self, request: pb.ListModelsRequest, context: Context) -> pb.ListModelsResponse:
        size, after = validation.page(request)
        entries, more = await self._registry.page(size=size, after=after)
        return pb.ListModelsResponse(
            models=[convert.model(e) for e in entries], next_page_token=str(after + size) if more else ""
        )

    async def PublishModel(self, request: pb.PublishModelRequest, context: Context) -> pb.PublishModelResponse:
        validation.check_publish(request)
        published = await _decided(self._registry.publish(request.version, force=request.force, reason=request.reason))
        return pb.PublishModelResponse(model=convert.model(published.entry))

    async def RollbackModel(self, request: pb.RollbackModelRequest, context: Context) -> pb.RollbackModelResponse:
        published = await _decided(self._registry.rollback(reason=request.reason))
        return pb.RollbackModelResponse(model=convert.model(published.entry))


async def _decided(publication: Any) -> Publication:
    """The registry's answer, its refusals as the contract's codes."""
    try:
        done: Publication = await publication
    except UnknownVersion as exc:
        raise NotFound(exc.message, reason="MODEL_NOT_FOUND") from exc
    except Refused as exc:
        raise FailedPrecondition(exc.message, reason="MODEL_REFUSED") from exc
    return done
