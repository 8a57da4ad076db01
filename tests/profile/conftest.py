"""Fixtures of the profile tests: one profile process (own schema, own RESOLVED stream) per module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bullseye_devtools.stack import NatsServer, PostgresServer
from nats.aio.client import Client as NATS

from tests.profile.support import ProfileUnderTest, start_profile, stop_profile


@pytest.fixture(scope="module")
async def profile(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> AsyncIterator[ProfileUnderTest]:
    """A profile process whose clock is pinned to support.NOW."""
    started = await start_profile(nc, nats_server, postgres, stack_dir / "logs")
    yield started
    await stop_profile(started)
