"""The identity service's Resolve, for GetProfile by identifier."""

from __future__ import annotations

import grpc
from bullseye.identity.v1 import identity_pb2, identity_pb2_grpc
from bullseye_platform.grpc.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable, violation


class IdentityClient:
    """One channel to identity, opened by bootstrap and closed with the process."""

    def __init__(self, address: str, *, timeout: float = 2.0) -> None:
        self._address, self._timeout = address, timeout
        self._channel = grpc.aio.insecure_channel(address) if address else None

    async def resolve(self, identifier: identity_pb2.IdentifierRef) -> str:
        """The person id of `identifier`.

        Raises:
            FailedPrecondition: no identity address is configured.
            NotFound: identity knows no such identifier.
            InvalidArgument: identity cannot read the identifier (an email that is not one).
            Unavailable: identity did not answer.
        """
        if self._channel is None:
            raise FailedPrecondition("lookup by identifier needs PROFILE_IDENTITY_ADDRESS; ask by person_id")
        stub = identity_pb2_grpc.IdentityServiceStub(self._channel)
        try:
            reply = await stub.Resolve(identity_pb2.ResolveRequest(identifiers=[identifier]), timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise NotFound("no person has this identifier", reason="IDENTIFIER_NOT_FOUND") from exc
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                # The caller's identifier is what is wrong: say so as their own field's problem.
                said = exc.details() or "not a valid identifier"
                raise InvalidArgument(f"identifier: {said}", [violation("identifier", said)]) from exc
            raise Unavailable(f"identity did not resolve the identifier: {exc.code().name}") from exc
        return str(reply.person_id)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(grace=None)
