"""Ingestion's AppendCorrections, as identity calls it: ingestion alone writes EVENTS."""

from __future__ import annotations

import grpc
from bullseye.identity.v1 import correction_pb2 as cpb
from bullseye.ingestion.v1 import ingestion_pb2 as ipb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ipb_grpc


class NotRecorded(Exception):
    """Ingestion did not confirm the append; `code` is the status it answered with."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code


class CorrectionLog:
    """Talks to ingestion over a channel opened (and closed) by the composition root."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = ipb_grpc.IngestionServiceStub(channel)

    async def append(self, correction: cpb.IdentityCorrection, *, within: float) -> int:
        """Append `correction` to EVENTS within `within` seconds; returns its sequence there (also when it
        was there already).

        Raises:
            NotRecorded: ingestion is unreachable, too slow, or refused.
        """
        request = ipb.AppendCorrectionsRequest(corrections=[correction])
        try:
            reply = await self._stub.AppendCorrections(request, timeout=within)
        except grpc.aio.AioRpcError as exc:
            raise NotRecorded(exc.code(), exc.details() or "") from None
        return reply.outcomes[0].stream_sequence
