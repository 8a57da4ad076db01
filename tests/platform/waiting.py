"""Waiting for something another task or process makes true, without assuming how long it takes."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable


async def wait_until(check: Callable[[], Awaitable[bool]], *, within: float = 30.0, every: float = 0.02) -> None:
    """Poll `check` until it holds; TimeoutError after `within` seconds (a generous bound, not a timing)."""
    try:
        async with asyncio.timeout(within):
            while not await check():  # noqa: ASYNC110 - the state is in another process; no Event to await
                await asyncio.sleep(every)
    except TimeoutError:
        raise TimeoutError(f"not true within {within} s: {described(check)}") from None


def wait_until_sync(check: Callable[[], bool], *, within: float = 30.0, every: float = 0.02) -> None:
    """`wait_until` for blocking tests (hypothesis runs them outside the event loop)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {within} s: {described(check)}")
        time.sleep(every)


def described(check: Callable[..., object]) -> str:
    """What a failed wait waited for, for the report: a lambda's line, else the function's name."""
    name = getattr(check, "__qualname__", repr(check))
    if name.endswith("<lambda>"):
        with contextlib.suppress(OSError, TypeError):
            return inspect.getsource(check).strip()
    return name


@contextlib.asynccontextmanager
async def running(
    run: Callable[[asyncio.Event], Awaitable[None]], *, stops_within: float = 30.0
) -> AsyncIterator[None]:
    """`run(stop)` (a worker's loop) in the background for the block; stopped and awaited after it,
    failing the test if it does not end within `stops_within` seconds of its stop."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=stops_within)
