"""bullseye.ingestion.v1.IngestionService over gRPC: request-level rules, then the intake.

The call envelope has admitted the caller with the method's scope already (`events:write`,
`catalog:write`, `events:correct`); what only the request tells (backfill=true needs
`events:backfill`) and the caller's rate are checked here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from bullseye_platform.auth import Principal, caller, require
from bullseye_platform.grpc import InvalidArgument, ResourceExhausted, violation
from google.protobuf.message import Message

from bullseye_ingestion.api.auth import Throttle
from bullseye_ingestion.api.catalog_intake import CatalogIntake
from bullseye_ingestion.api.correction_intake import CorrectionIntake
from bullseye_ingestion.api.intake import Intake
from bullseye_ingestion.domain.keys import Scope, trust_of
from bullseye_ingestion.domain.policy import EventPolicy

Context = grpc.aio.ServicerContext[Any, Any]


class IngestionServicer(pb_grpc.IngestionServiceServicer):
    def __init__(
        self, *, intake: Intake, catalog: CatalogIntake, corrections: CorrectionIntake, throttle: Throttle,
        policy: EventPolicy,
    ) -> None:  # fmt: skip
        self._intake, self._catalog, self._corrections = intake, catalog, corrections
        self._throttle, self._policy = throttle, policy

    def _check_request(self, request: Message, count: int, field: str, what: str = "events") -> None:
        size = request.ByteSize()
        limit = self._policy.max_request_bytes
        if size > limit:
            raise ResourceExhausted(
                f"request is {size} bytes; the limit is {limit} bytes ({limit // 1024} KiB): split the batch",
                subject="request",
                limit=f"{limit} bytes per request",
            )
        if count == 0:
            raise InvalidArgument(f"no {what} in the request", [violation(field, f"needs at least one of the {what}")])
        if count > self._policy.max_batch_events:
            most = self._policy.max_batch_events
            raise InvalidArgument(
                f"{count} {what} in one request; the limit is {most}",
                [violation(field, f"has {count} {what}; at most {most} per request")],
            )

    def _admit(self, request: Message, count: int, field: str, *, backfill: bool) -> Principal:
        """The caller, allowed to send this request now.

        Raises:
            PermissionDenied: backfill=true without `events:backfill`.
            InvalidArgument, ResourceExhausted: the request's size, or the caller's rate.
        """
        sender = require(Scope.BACKFILL, why="backfill=true") if backfill else caller()
        self._check_request(request, count, field)
        self._throttle.take(sender, count)
        return sender

    async def _batch(self, request: Message, events: Any, backfill: bool) -> pb.BatchResult:
        sender = self._admit(request, len(events), "events", backfill=backfill)
        return await self._intake.accept(events, source=sender.name, backfill=backfill, trust=trust_of(sender))

    async def Track(self, request: pb.TrackRequest, context: Context) -> pb.TrackResponse:
        count = 1 if request.HasField("event") else 0
        sender = self._admit(request, count, "event", backfill=request.backfill)
        result = await self._intake.accept(
            [request.event], source=sender.name, backfill=request.backfill, trust=trust_of(sender)
        )
        outcome = result.outcomes[0]
        if outcome.status == pb.EVENT_STATUS_REJECTED:
            violations = [violation(f"event.{v.field}".rstrip("."), v.description) for v in outcome.violations]
            raise InvalidArgument(f"event {outcome.event_id!r} is invalid: {_summary(outcome)}", violations)
        return pb.TrackResponse(outcome=outcome)

    async def TrackBatch(self, request: pb.TrackBatchRequest, context: Context) -> pb.TrackBatchResponse:
        result = await self._batch(request, request.events, request.backfill)
        return pb.TrackBatchResponse(result=result)

    async def Ingest(
        self, request_iterator: AsyncIterator[pb.IngestRequest], context: Context
    ) -> AsyncIterator[pb.IngestResponse]:
        async for request in request_iterator:
            result = await self._batch(request, request.events, request.backfill)
            yield pb.IngestResponse(batch_id=request.batch_id, result=result)

    async def PublishCatalog(self, request: pb.PublishCatalogRequest, context: Context) -> pb.PublishCatalogResponse:
        sender = caller()
        self._check_request(request, len(request.changes), "changes", "catalog changes")
        self._throttle.take(sender, len(request.changes))
        return await self._catalog.publish(request.changes, source=sender.name)

    async def AppendCorrections(
        self, request: pb.AppendCorrectionsRequest, context: Context
    ) -> pb.AppendCorrectionsResponse:
        # Identity's call, admitted by the envelope with `events:correct` (docs/design.md D1).
        return await self._corrections.append(request.corrections)


def _summary(outcome: pb.EventOutcome) -> str:
    return "; ".join(f"{v.field or 'event'} {v.description}" for v in outcome.violations)
