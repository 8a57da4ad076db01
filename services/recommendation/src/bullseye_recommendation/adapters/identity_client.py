"""Who a shopper named by an identifier is: identity's Resolve, for Recommend by identifier.

The channel comes from the platform's client factory (bootstrap.py): recommendation's token
(scope `identities:read`), the deadline, and retries (Resolve has no side effects). An
identifier identity does not know is a shopper seen for the first time: not an error here,
a cold start (None).
"""

from __future__ import annotations

import grpc
from bullseye.identity.v1 import identity_pb2, identity_pb2_grpc
from bullseye_platform.grpc.errors import FailedPrecondition, InvalidArgument, Unavailable, violation

_REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


class IdentityClient:
    """One channel to identity (None when no address is configured), closed with the process."""

    def __init__(self, channel: grpc.aio.Channel | None) -> None:
        self._channel = channel

    async def person_of(self, identifier: identity_pb2.IdentifierRef) -> str | None:
        """The person with `identifier`, or None for one identity has never seen.

        Raises:
            FailedPrecondition: no identity address is configured, or identity refused our credentials.
            InvalidArgument: identity found the identifier malformed.
            Unavailable: identity did not answer.
        """
        if self._channel is None:
            raise FailedPrecondition("lookup by identifier needs RECOMMENDATION_IDENTITY_ADDRESS; ask by person_id")
        stub = identity_pb2_grpc.IdentityServiceStub(self._channel)
        try:
            reply = await stub.Resolve(identity_pb2.ResolveRequest(identifiers=[identifier]))
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.NOT_FOUND:
                return None
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                raise InvalidArgument(f"identity refused the identifier: {exc.details()}",
                                      [violation("identifier", exc.details() or "malformed")]) from exc  # fmt: skip
            if code in _REFUSED:
                raise FailedPrecondition(
                    f"identity refused recommendation's credentials ({code.name}): see BULLSEYE_TRUSTED_KEYS and "
                    "BULLSEYE_GRANTS (recommendation needs identities:read)", reason="IDENTITY_REFUSED_RECOMMENDATION",
                ) from exc  # fmt: skip
            raise Unavailable(f"identity did not resolve the identifier: {code.name}", retry_after=1.0) from exc
        return str(reply.person_id)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(grace=None)
