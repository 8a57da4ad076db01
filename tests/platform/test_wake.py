"""WakeLoop's linger: a worker woken up waits before it claims, so that the commits of those
milliseconds share one step; a step that found more work is followed at once."""

from __future__ import annotations

import asyncio

from bullseye_platform.jobs.wake import Pass, WakeLoop

from tests.platform.waiting import running, wait_until

RESOLUTION = 0.01  # asyncio may run a timer up to its clock's resolution early


class Steps:
    """A step that notes when it ran and says there is more work for its first `more` runs."""

    def __init__(self, *, more: int = 0) -> None:
        self.at: list[float] = []
        self._more = more

    async def __call__(self) -> Pass:
        self.at.append(asyncio.get_running_loop().time())
        return Pass(more=len(self.at) <= self._more)

    async def ran(self, times: int) -> bool:
        return len(self.at) >= times


async def test_a_woken_worker_lingers_before_its_step() -> None:
    steps = Steps()
    loop = WakeLoop(name="test", step=steps, poll=3600, linger=0.3)
    async with running(loop.run):
        await wait_until(lambda: steps.ran(1))  # its first look, then it waits for a wake-up
        woken = asyncio.get_running_loop().time()
        loop.wake()
        await wait_until(lambda: steps.ran(2))

    assert steps.at[1] - woken >= 0.3 - RESOLUTION


async def test_a_step_that_found_more_is_followed_without_lingering_and_a_stop_ends_a_linger() -> None:
    steps = Steps(more=1)
    loop = WakeLoop(name="test", step=steps, poll=3600, linger=3600)
    async with running(loop.run):  # the stop at its end cuts short the hour's linger that the wake-up began
        await wait_until(lambda: steps.ran(2))  # an hour's linger after the first step would fail this
        loop.wake()
    assert len(steps.at) == 2
