"""Identity's BatchGetContacts: where persons can be reached, asked at send time and never stored.

The channel comes from the platform's client factory (bootstrap.py): campaign's token (scope
`contacts:read`), the deadline and retries (the method has no side effects) are its business.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.identity.v1 import identity_pb2, identity_pb2_grpc

from bullseye_campaign.adapters.calls import failed

BATCH = 500  # identity's limit per call
ADDRESSED = frozenset({cpb.CHANNEL_EMAIL, cpb.CHANNEL_SMS})  # the channels that need an address


@dataclass(frozen=True)
class Contacts:
    """One person's addresses now (empty: none), in memory only."""

    email: str = ""
    phone: str = ""
    first_name: str = ""
    device_ids: tuple[str, ...] = field(default=())


class IdentityClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = identity_pb2_grpc.IdentityServiceStub(channel)
        self._channel = channel

    async def contacts(self, person_ids: Sequence[str], *, addresses: bool = True) -> dict[str, Contacts]:
        """person id -> where they can be reached; unknown persons have empty contacts. Without
        `addresses`, only app devices (identity opens no sealed address: push and in-app only).

        Raises:
            Unavailable: identity did not answer.
            FailedPrecondition: identity refused campaign's credentials.
        """
        found: dict[str, Contacts] = {}
        unique = sorted(set(person_ids))
        for start in range(0, len(unique), BATCH):
            request = identity_pb2.BatchGetContactsRequest(person_ids=unique[start : start + BATCH],
                                                           devices_only=not addresses)  # fmt: skip
            try:
                reply = await self._stub.BatchGetContacts(request)
            except grpc.aio.AioRpcError as exc:
                raise failed("identity", "contacts:read", exc) from exc
            for c in reply.contacts:
                found[c.person_id] = Contacts(c.email, c.phone, c.first_name, tuple(c.device_ids))
        return found

    async def person(self, person_id: str) -> str | None:
        """The person `person_id` is now (following merges), or None when identity knows no such person.

        Raises:
            Unavailable, FailedPrecondition: identity did not answer, or refused campaign.
        """
        try:
            reply = await self._stub.GetIdentities(identity_pb2.GetIdentitiesRequest(person_id=person_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise failed("identity", "identities:read", exc) from exc
        return str(reply.person_id)

    async def close(self) -> None:
        await self._channel.close(grace=None)
