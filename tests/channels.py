"""The one place tests open gRPC channels to the services they started.

Every test that calls a service goes through here, so that how a test authenticates (and,
where configured, speaks TLS) changes in one place.
"""

from __future__ import annotations

import grpc


def channel(address: str) -> grpc.aio.Channel:
    """An asyncio channel to a service under test."""
    return grpc.aio.insecure_channel(address)


def sync_channel(address: str) -> grpc.Channel:
    """A blocking channel to a service under test."""
    return grpc.insecure_channel(address)
