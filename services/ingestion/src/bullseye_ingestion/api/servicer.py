"""bullseye.ingestion.v1.IngestionService over gRPC: request-level rules, then the intake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from bullseye_platform.grpc import InvalidArgument, ResourceExhausted, violation
from google.protobuf.message import Message

from bullseye_ingestion.api.auth import Gatekeeper
from bullseye_ingestion.domain.policy import EventPolicy
from bullseye_ingestion.intake import Intake

Context = grpc.aio.ServicerContext[Any, Any]


class IngestionServicer(pb_grpc.IngestionServiceServicer):
    def __init__(self, *, intake: Intake, gate: Gatekeeper, policy: EventPolicy) -> None:
        self._intake, self._gate, self._policy = intake, gate, policy

    def _check_request(self, request: Message, count: int, field: str) -> None:
        size = request.ByteSize()
        limit = self._policy.max_request_bytes
        if size > limit:
            raise ResourceExhausted(
                f"request is {size} bytes; the limit is {limit} bytes ({limit // 1024} KiB): split the batch",
                subject="request",
                limit=f"{limit} bytes per request",
            )
        if count == 0:
            raise InvalidArgument("no events in the request", [violation(field, "needs at least one event")])
        if count > self._policy.max_batch_events:
            most = self._policy.max_batch_events
            raise InvalidArgument(
                f"{count} events in one request; the limit is {most}",
                [violation(field, f"has {count} events; at most {most} per request")],
            )

    async def _batch(self, request: Message, events: Any, backfill: bool, context: Context) -> pb.BatchResult:
        key = await self._gate.authenticate(_metadata(context), backfill=backfill)
        self._check_request(request, len(events), "events")
        self._gate.throttle(key, len(events))
        return await self._intake.accept(events, source=key.source, backfill=backfill, trust=key.trust)

    async def Track(self, request: pb.TrackRequest, context: Context) -> pb.TrackResponse:
        key = await self._gate.authenticate(_metadata(context), backfill=request.backfill)
        self._check_request(request, 1 if request.HasField("event") else 0, "event")
        self._gate.throttle(key, 1)
        result = await self._intake.accept(
            [request.event], source=key.source, backfill=request.backfill, trust=key.trust
        )
        outcome = result.outcomes[0]
        if outcome.status == pb.EVENT_STATUS_REJECTED:
            violations = [violation(f"event.{v.field}".rstrip("."), v.description) for v in outcome.violations]
            raise InvalidArgument(f"event {outcome.event_id!r} is invalid: {_summary(outcome)}", violations)
        return pb.TrackResponse(outcome=outcome)

    async def TrackBatch(self, request: pb.TrackBatchRequest, context: Context) -> pb.TrackBatchResponse:
        result = await self._batch(request, request.events, request.backfill, context)
        return pb.TrackBatchResponse(result=result)

    async def Ingest(
        self, request_iterator: AsyncIterator[pb.IngestRequest], context: Context
    ) -> AsyncIterator[pb.IngestResponse]:
        async for request in request_iterator:
            result = await self._batch(request, request.events, request.backfill, context)
            yield pb.IngestResponse(batch_id=request.batch_id, result=result)


def _summary(outcome: pb.EventOutcome) -> str:
    return "; ".join(f"{v.field or 'event'} {v.description}" for v in outcome.violations)


def _metadata(context: Context) -> list[tuple[str, str | bytes]]:
    return [(item[0], item[1]) for item in context.invocation_metadata() or ()]
