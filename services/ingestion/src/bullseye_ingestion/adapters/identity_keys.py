"""Identity's IssueDataKeys, as ingestion calls it: one call for many subjects.

The channel comes from the platform's client factory (bootstrap.py): ingestion's token (scope
`datakeys:issue`), the deadline, and retries (IssueDataKeys is idempotent) are its business.
"""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye_platform.crypto import DataKey


class KeyServiceError(Exception):
    """Identity did not issue the keys; `code` is the gRPC status it answered with."""

    def __init__(self, code: grpc.StatusCode) -> None:
        super().__init__(f"IssueDataKeys failed with {code.name}")
        self.code = code


class IdentityKeyClient:
    """Talks to identity over a channel opened (and closed) by the composition root."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = pb_grpc.IdentityServiceStub(channel)

    async def issue(self, subjects: Sequence[str]) -> dict[str, DataKey]:
        """The data key of every subject, by subject.

        Raises:
            KeyServiceError: identity is unreachable, too slow, or refused.
        """
        request = pb.IssueDataKeysRequest(subjects=subjects)
        try:
            reply = await self._stub.IssueDataKeys(request)
        except grpc.aio.AioRpcError as exc:
            raise KeyServiceError(exc.code()) from None  # the details may echo the request
        return {k.subject: DataKey(k.key_id, k.secret) for k in reply.keys}
