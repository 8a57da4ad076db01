"""The identity service's Resolve, for GetProfile by identifier.

The channel comes from the platform's client factory (bootstrap.py): profile's token (scope
`identities:read`), the deadline and retries (Resolve has no side effects) are its business.
"""

from __future__ import annotations

import grpc
from bullseye.identity.v1 import identity_pb2, identity_pb2_grpc
from bullseye_platform.grpc.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable, violation

_REFUSED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


class IdentityClient:
    """One channel to identity (None when no address is configured), closed with the process."""

    def __init__(self, channel: grpc.aio.Channel | None) -> None:
        self._channel = channel

    async def resolve(self, identifier: identity_pb2.IdentifierRef) -> str:
        """The person id of `identifier`.

        Raises:
            FailedPrecondition: no identity address is configured, or identity refused profile's credentials.
            NotFound: identity knows no such identifier.
            InvalidArgument: identity cannot read the identifier (an email that is not one).
            Unavailable: identity did not answer.
        """
        if self._channel is None:
            raise FailedPrecondition("lookup by identifier needs PROFILE_IDENTITY_ADDRESS; ask by person_id")
        stub = identity_pb2_grpc.IdentityServiceStub(self._channel)
        try:
            reply = await stub.Resolve(identity_pb2.ResolveRequest(identifiers=[identifier]))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound("no person has this identifier", reason="IDENTIFIER_NOT_FOUND") from exc
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                # The caller's identifier is what is wrong: say so as their own field's problem.
                said = exc.details() or "not a valid identifier"
                raise InvalidArgument(f"identifier: {said}", [violation("identifier", said)]) from exc
            if exc.code() in _REFUSED:  # a deployment's keys or grants, not something a retry mends
                raise FailedPrecondition(
                    f"identity refused profile's credentials ({exc.code().name}): see BULLSEYE_TRUSTED_KEYS and "
                    "BULLSEYE_GRANTS (profile needs identities:read)",
                    reason="IDENTITY_REFUSED_PROFILE",
                ) from exc
            raise Unavailable(f"identity did not resolve the identifier: {exc.code().name}") from exc
        return str(reply.person_id)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(grace=None)
