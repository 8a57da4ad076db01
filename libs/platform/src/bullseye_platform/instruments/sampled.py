"""Gauges whose values come from a query, taken every few seconds by a worker.

Some figures are not events the code sees but states it must ask for: a consumer's lag is
JetStream's to tell, an outbox's backlog PostgreSQL's. A `Sampler` runs each probe every
`interval` seconds in the service's first process (helpers would only repeat the
figures) and the probes set ordinary gauges. A failing probe is logged and tried again at
the next round; its gauges keep their last values, so "stale" shows as flat, and the
figures that matter most also have an alert on absence (deploy/helm, bullseye-lib).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from bullseye_platform.pausing import pause

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[None]]


class Sampler:
    """Runs `probes` every `interval` seconds until stopped (a Worker's `run`)."""

    def __init__(self, probes: Sequence[Probe], *, interval: float) -> None:
        self._probes, self._interval = list(probes), interval

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for probe in self._probes:
                try:
                    await probe()
                except Exception as exc:  # a figure missing for a round must not stop the service
                    log.warning("metrics probe %s failed: %r", getattr(probe, "__qualname__", probe), exc)
            await pause(stop, self._interval)
