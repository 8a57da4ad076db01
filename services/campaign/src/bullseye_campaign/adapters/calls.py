"""How a failed call to another service becomes campaign's own answer.

A refusal of campaign's credentials is the deployment's business (keys, grants), not the
caller's, and a retry will not mend it: FAILED_PRECONDITION naming what to fix. Anything else
unexpected means the service is not answering now: UNAVAILABLE, which an RPC answers as is and
a job worker takes as "try again later".
"""

from __future__ import annotations

import grpc
from bullseye_platform.grpc.errors import FailedPrecondition, Unavailable

REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


def refused(service: str, scope: str, exc: grpc.aio.AioRpcError) -> FailedPrecondition:
    return FailedPrecondition(
        f"{service} refused campaign's credentials ({exc.code().name}): see BULLSEYE_TRUSTED_KEYS and "
        f"BULLSEYE_GRANTS (campaign needs {scope})",
        reason=f"{service.upper()}_REFUSED_CAMPAIGN",
    )


def unavailable(service: str, exc: grpc.aio.AioRpcError) -> Unavailable:
    return Unavailable(f"{service} did not answer: {exc.code().name}", retry_after=1.0, reason="DEPENDENCY_UNAVAILABLE")


def failed(service: str, scope: str, exc: grpc.aio.AioRpcError) -> FailedPrecondition | Unavailable:
    """What a failure of a call made on behalf of an RPC answers."""
    return refused(service, scope, exc) if exc.code() in REFUSED else unavailable(service, exc)
