"""Helper processes serving the same gRPC port, for more than one core per deployment unit.

A Python process serves its calls from one core: grpc.aio's per-call work holds the GIL.
With `<PREFIX>_SERVE_PROCESSES=N` the first process starts N-1 helpers running its own
command line with BULLSEYE_SERVING_HELPER=i. A helper builds the service the same way but
runs only the gRPC server and the workers every process needs (`Running.everywhere`); the
projections, relays and schedules stay in the first process. All listen with SO_REUSEPORT
on the port the first bound (the kernel's pick for GRPC_PORT=0 included) and the kernel
deals new connections among them, so a caller needs several connections to reach them all.
With a ready file (bullseye_platform.ready), the unit is reported ready once all serve.

The unit lives and dies whole: a helper that exits stops the first process (its supervisor
restarts everything), a SIGTERM to the first is passed on to the helpers, which drain as it
does, and a helper whose first process vanished (SIGKILL) stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from asyncio.subprocess import Process
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bullseye_platform import ready
from bullseye_platform.grpc.server import Worker
from bullseye_platform.pausing import pause

log = logging.getLogger(__name__)
HELPER_ENV = "BULLSEYE_SERVING_HELPER"
PARENT_POLL = 1.0  # seconds between a helper's looks at whether its first process is alive
HELPER_POLL = 0.05  # seconds between the first process's looks for its helpers' ready files


def helper_index() -> int | None:
    """This process's helper number (1, 2, ...), or None in the first process."""
    raw = os.environ.get(HELPER_ENV, "")
    return int(raw) if raw else None


def serving_helpers(
    count: int, *, grace: float, settings: Mapping[str, str], first: ready.Ready, report: Path | None
) -> Worker:
    """The first process's worker that runs `count` helpers until stop, or fails when one exits.

    Helpers get `settings` on top of this process's environment (the port it bound). With a
    `report` file, the unit is reported ready there, `first` and every helper, once each
    helper has reported itself ready to its own file.
    """

    async def run(stop: asyncio.Event) -> None:
        command = [sys.executable, *sys.orig_argv[1:]]
        helpers = [
            await asyncio.create_subprocess_exec(*command, env=_helper_env(number, settings, report))
            for number in range(1, count + 1)
        ]
        exits = [asyncio.ensure_future(helper.wait()) for helper in helpers]
        stopping = asyncio.ensure_future(stop.wait())
        try:
            if report is not None:
                await _report_unit(report, first, count, watch=[stopping, *exits])
            await asyncio.wait([stopping, *exits], return_when=asyncio.FIRST_COMPLETED)
            if not stop.is_set():
                codes = [helper.returncode for helper in helpers]
                raise RuntimeError(f"a serving helper exited (exit codes {codes}); stopping the whole unit")
        finally:
            stopping.cancel()
            await _stop_all(helpers, exits, grace)

    return run


def _helper_env(number: int, settings: Mapping[str, str], report: Path | None) -> dict[str, str]:
    env = {**os.environ, **settings, HELPER_ENV: str(number)}
    env[ready.VARIABLE] = str(ready.helper_file(report, number)) if report is not None else ""
    return env


async def _report_unit(report: Path, first: ready.Ready, count: int, *, watch: Sequence[asyncio.Future[Any]]) -> None:
    """Write the unit's ready file once every helper has written its own (each appears whole);
    return without it when one of `watch` (stop, a helper's exit) completes first."""
    files = [ready.helper_file(report, number) for number in range(1, count + 1)]
    while not all(file.exists() for file in files):
        done, _ = await asyncio.wait(watch, timeout=HELPER_POLL)
        if done:
            return
    helpers = [ready.read(file) for file in files]
    ready.write(report, first.with_helpers(helper for helper in helpers if helper is not None))
    for file in files:
        file.unlink()


async def _stop_all(helpers: Sequence[Process], exits: Sequence[asyncio.Future[int]], grace: float) -> None:
    for helper in helpers:
        with contextlib.suppress(ProcessLookupError):  # already gone
            helper.send_signal(signal.SIGTERM)
    for helper, exited in zip(helpers, exits, strict=True):
        try:
            await asyncio.wait_for(asyncio.shield(exited), timeout=grace)
        except TimeoutError:
            log.warning("serving helper %d did not drain in %.0fs: killed", helper.pid, grace)
            with contextlib.suppress(ProcessLookupError):
                helper.kill()
            await exited


def exit_with_parent() -> Worker:
    """A helper's worker: stop when the first process is gone (its parent id changes)."""
    parent = os.getppid()

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            if os.getppid() != parent:
                log.warning("the first serving process is gone: stopping")
                stop.set()
                return
            await pause(stop, PARENT_POLL)

    return run
