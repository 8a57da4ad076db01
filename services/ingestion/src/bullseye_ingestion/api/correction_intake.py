"""Appending identity's corrections to EVENTS: ingestion stays the only writer of the log.

A correction is a record of EVENTS like an event (docs/design.md D1), on the kind
`identity_correction`, appended through the same writer, so it takes its place in the one
order the resolver reads. Its command id is the Nats-Msg-Id: a retry inside the duplicate
window is stored once, and the resolver drops a later repeat by the same id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from bullseye.identity.v1 import correction_pb2 as cpb
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye_platform.eventlog import CORRECTION_KIND, LogMessage
from bullseye_platform.grpc import InvalidArgument
from bullseye_platform.telemetry import inject_headers

from bullseye_ingestion.adapters.log_target import LogTarget
from bullseye_ingestion.api.intake import now_utc
from bullseye_ingestion.domain.corrections import validate_corrections
from bullseye_ingestion.domain.policy import EventPolicy

DUPLICATE, ACCEPTED = pb.EVENT_STATUS_DUPLICATE, pb.EVENT_STATUS_ACCEPTED


class CorrectionIntake:
    """The application service of AppendCorrections: all of a request, or nothing."""

    def __init__(self, *, target: LogTarget, policy: EventPolicy, clock: Callable[[], datetime] = now_utc) -> None:
        self._target, self._policy, self._clock = target, policy, clock

    async def append(self, corrections: Sequence[cpb.IdentityCorrection]) -> pb.AppendCorrectionsResponse:
        """Append every correction, in order.

        Raises:
            InvalidArgument: a correction is malformed (nothing appended).
            Unavailable: the log did not acknowledge; the caller retries the same commands.
        """
        now = self._clock().timestamp()
        found = validate_corrections(corrections, now=now, future_tolerance=self._policy.future_tolerance)
        if found:
            raise InvalidArgument(f"{len(found)} problem(s) in the corrections; nothing was appended", found)
        headers = inject_headers({})
        subject = self._target.subject
        messages = [
            LogMessage(subject(c.command_id, CORRECTION_KIND), c.SerializeToString(), c.command_id, headers)
            for c in corrections
        ]
        appended = await self._target.append(messages, what="corrections", retry="retry: each command is stored once")
        return pb.AppendCorrectionsResponse(
            outcomes=[
                pb.CorrectionOutcome(command_id=c.command_id, status=DUPLICATE if a.duplicate else ACCEPTED,
                                     stream_sequence=a.seq)
                for c, a in zip(corrections, appended, strict=True)
            ]
        )  # fmt: skip
