"""One NATS connection per process, configured for services that must not give up."""

from __future__ import annotations

import logging

import nats
from nats.aio.client import Client as NATS

log = logging.getLogger(__name__)


async def connect(url: str, *, name: str) -> NATS:
    """Connect with endless reconnects (a restarting server must not kill the service)."""

    async def on_disconnect() -> None:
        log.warning("nats disconnected", extra={"nats_url": url})

    async def on_reconnect() -> None:
        log.info("nats reconnected", extra={"nats_url": url})

    async def on_error(exc: Exception) -> None:
        log.warning("nats error: %s", exc)

    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        error_cb=on_error,
        pending_size=64 * 1024 * 1024,
    )
