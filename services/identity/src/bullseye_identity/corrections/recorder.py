"""The RPC's side of a correction: record the command in EVENTS, wait for its outcome.

Read-your-writes: the call answers only once the resolver has applied the command (its
outcome row commits with the change), within the call's deadline. A call that cannot say
what happened answers UNAVAILABLE; since a retry of the same request is the same command,
which the log stores once and the resolver applies once, retrying is always safe.
"""

from __future__ import annotations

import asyncio

import grpc
from bullseye.identity.v1 import correction_pb2 as cpb
from bullseye_platform.grpc import ServiceError, Unavailable
from google.rpc import status_pb2

from bullseye_identity.adapters.correction_log import CorrectionLog, NotRecorded
from bullseye_identity.adapters.outcomes import Outcomes

RETRY_AFTER = 1.0
# A call answers this much before its deadline (at most), so the caller hears why.
MARGIN, MAX_MARGIN = 0.1, 1.0
TRANSIENT = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED,
     grpc.StatusCode.RESOURCE_EXHAUSTED}
)  # fmt: skip


class NotAppended(ServiceError):
    """Ingestion refused a well-formed correction: a bug or a misconfiguration, not the caller's."""

    code = grpc.StatusCode.INTERNAL


class Recorder:
    """Records correction commands through ingestion and waits for their outcomes.

    Args:
        wait: seconds a call without a deadline waits for the outcome.
        append_timeout: deadline of the append to ingestion (within the call's).
    """

    def __init__(self, *, log: CorrectionLog, outcomes: Outcomes, wait: float, append_timeout: float) -> None:
        self._log, self._outcomes = log, outcomes
        self._wait, self._append_timeout = wait, append_timeout

    async def run(self, correction: cpb.IdentityCorrection, *, remaining: float | None) -> status_pb2.Status:
        """The outcome of `correction` (`remaining`: the call's time left, None without a deadline).

        Raises:
            Unavailable: ingestion did not record it, or the resolver did not apply it in time.
            NotAppended: ingestion refused it.
        """
        command_id = correction.command_id
        if (known := await self._outcomes.get(command_id)) is not None:
            return known  # a retry of a command applied before: its answer, nothing appended again
        budget = self._wait if remaining is None else remaining - min(MAX_MARGIN, remaining * MARGIN)
        deadline = asyncio.get_running_loop().time() + budget
        with self._outcomes.waiting(command_id) as waiter:  # before the append: no notification missed
            seq = await self._append(correction, within=min(self._append_timeout, budget))
            found = await waiter.until(deadline)
        if found is None:
            raise Unavailable(
                f"correction {command_id} is recorded in EVENTS (sequence {seq}) but identity's resolver has not "
                f"applied it within {budget:.1f}s; it will, once: retry the same request for its outcome",
                retry_after=RETRY_AFTER,
                reason="CORRECTION_PENDING",
            )
        return found

    async def _append(self, correction: cpb.IdentityCorrection, *, within: float) -> int:
        try:
            return await self._log.append(correction, within=max(within, 0.001))
        except NotRecorded as exc:
            if exc.code not in TRANSIENT:
                raise NotAppended(f"ingestion refused correction {correction.command_id}: {exc}") from None
            raise Unavailable(
                f"ingestion (the writer of EVENTS) did not confirm correction {correction.command_id} ({exc}); "
                "nothing is applied until it does: retry the same request, it is one command and applied once",
                retry_after=RETRY_AFTER,
                reason="EVENT_LOG_UNAVAILABLE",
            ) from None
