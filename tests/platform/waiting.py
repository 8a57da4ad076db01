"""Waiting for something another task or process makes true, without assuming how long it takes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def wait_until(check: Callable[[], Awaitable[bool]], *, within: float = 30.0, every: float = 0.02) -> None:
    """Poll `check` until it holds; TimeoutError after `within` seconds (a generous bound, not a timing)."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - the state is in another process; no Event to await
            await asyncio.sleep(every)
