"""Who an identifier names: identity's Resolve, as every service that takes a person by
identifier asks it (profile's GetProfile, recommendation's Recommend).

The channel comes from the client factory (ServiceConfig.channel_to): the caller's token
(scope `identities:read`), the deadline and retries (Resolve has no side effects). What an
identifier identity has never seen means is the caller's to say: no profile for profile, a
first visit for recommendation; so it is None here, not an error. Every other refusal is
turned into what the caller's own client should see: its identifier is wrong, the
deployment's keys or grants are, or identity is away.
"""

from __future__ import annotations

import grpc
from bullseye.identity.v1 import identity_pb2, identity_pb2_grpc

from bullseye_platform.grpc.errors import FailedPrecondition, InvalidArgument, ServiceError, Unavailable, violation

_REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
RETRY_AFTER = 1.0  # seconds: the factory reconnects within a second of identity coming back


class Resolver:
    """One channel to identity (None when the service has no identity address), closed with
    the process. `caller` names the service in refusals, `variable` its address setting."""

    def __init__(self, channel: grpc.aio.Channel | None, *, caller: str, variable: str) -> None:
        self._channel, self._caller, self._variable = channel, caller, variable

    async def person_of(self, identifier: identity_pb2.IdentifierRef) -> str | None:
        """The person with `identifier`, or None for one identity has never seen.

        Raises:
            FailedPrecondition: no identity address is configured, or identity refused the credentials.
            InvalidArgument: identity cannot read the identifier (an email that is not one).
            Unavailable: identity did not answer.
        """
        if self._channel is None:
            raise FailedPrecondition(f"lookup by identifier needs {self._variable}; ask by person_id")
        stub = identity_pb2_grpc.IdentityServiceStub(self._channel)
        try:
            reply = await stub.Resolve(identity_pb2.ResolveRequest(identifiers=[identifier]))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise self._refusal(exc) from exc
        return str(reply.person_id)

    def _refusal(self, exc: grpc.aio.AioRpcError) -> ServiceError:
        code = exc.code()
        if code == grpc.StatusCode.INVALID_ARGUMENT:  # the caller's identifier: their own field's problem
            said = exc.details() or "not a valid identifier"
            return InvalidArgument(f"identifier: {said}", [violation("identifier", said)])
        if code in _REFUSED:  # a deployment's keys or grants, not something a retry mends
            return FailedPrecondition(
                f"identity refused {self._caller}'s credentials ({code.name}): see BULLSEYE_TRUSTED_KEYS and "
                f"BULLSEYE_GRANTS ({self._caller} needs identities:read)",
                reason=f"IDENTITY_REFUSED_{self._caller.upper()}",
            )  # fmt: skip
        return Unavailable(f"identity did not resolve the identifier: {code.name}", retry_after=RETRY_AFTER)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(grace=None)
