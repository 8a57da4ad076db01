"""The one place tests open gRPC channels to the services they started.

Every test that calls a service goes through here, so that how a test authenticates (and,
where configured, speaks TLS) changes in one place. Channels call as the operator (every
scope) unless a test names another principal of the session (tests/credentials.py), or None
for a channel without credentials (a test of refusals, or one that sends an API key per call:
credentials given with a call always win over the channel's).
"""

from __future__ import annotations

import grpc
from bullseye_platform.auth import TokenMinter
from bullseye_platform.grpc import client
from bullseye_platform.grpc.tls import ClientTls

from tests import credentials
from tests.credentials import OPERATOR


def channel(
    address: str,
    *,
    caller: str | TokenMinter | None = OPERATOR,
    tls: ClientTls | None = None,
    own_connection: bool = False,
) -> grpc.aio.Channel:
    """An asyncio channel to a service under test, through the platform's client factory (no
    default deadline: a test sets its own where it matters). `caller` is a principal of the
    session, the tokens of another stack's principal, or None."""
    minter = credentials.minter(caller) if isinstance(caller, str) else caller
    return client.channel(address, credentials=minter, tls=tls, deadline=None, own_connection=own_connection)


def sync_channel(address: str, *, caller: str | None = OPERATOR) -> grpc.Channel:
    """A blocking channel to a service under test. Its token is minted once: keep the channel
    for less than a token's life (minutes). gRPC sends call credentials only over a secure
    channel; loopback "local" credentials count as one without TLS."""
    if caller is None:
        return grpc.insecure_channel(address)
    token = grpc.access_token_call_credentials(credentials.minter(caller).token())
    local = grpc.local_channel_credentials(grpc.LocalConnectionType.LOCAL_TCP)
    return grpc.secure_channel(address, grpc.composite_channel_credentials(local, token))
