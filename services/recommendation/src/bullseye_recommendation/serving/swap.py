"""Every serving process follows the registry's served model, and swaps to it atomically.

The trigger is the `model.published` fact on RECO (an ordered consumer of new records from
the moment the process starts); a poll of the registry every `poll` seconds is the safety
net for a fact missed while NATS was away. Either way the process asks the registry which
version is current (the latest publication, whatever order facts arrived in), loads it in a
thread while calls go on with the old model, checks its checksum against the registry's, and
swaps by one assignment (serving/models.py). A model that fails its checksum or its load is
refused: the old one keeps serving, the refusal is logged and counted, and the same version
is not tried again until the registry names another.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from bullseye_platform.jobs.wake import Pass, WakeLoop
from bullseye_platform.store.pool import TRANSIENT
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

from bullseye_recommendation.model.files import ChecksumError
from bullseye_recommendation.registry.entries import ModelEntry
from bullseye_recommendation.registry.registry import Registry
from bullseye_recommendation.serving.instruments import RecommendationInstruments
from bullseye_recommendation.serving.models import ModelHolder, load

log = logging.getLogger(__name__)
# What a model folder that cannot be served raises while loading (onnxruntime's own errors
# are RuntimeError subclasses).
UNLOADABLE = (ChecksumError, OSError, ValueError, KeyError, RuntimeError)


class ModelSwapper:
    def __init__(
        self, *, holder: ModelHolder, registry: Registry, storage: Path, instruments: RecommendationInstruments,
        poll: float,
    ) -> None:  # fmt: skip
        self._holder, self._registry, self._storage = holder, registry, storage
        self._instruments = instruments
        self._refused = ""
        self._loop = WakeLoop(name="model swapper", step=self._step, poll=poll, retry_on=TRANSIENT)

    async def follow(self) -> None:
        """Serve the registry's current version if this process does not already."""
        entry = await self._registry.current()
        served = self._holder.current
        if entry is None or (served is not None and served.version == entry.version) or entry.version == self._refused:
            return
        await self._swap_to(entry)

    async def _swap_to(self, entry: ModelEntry) -> None:
        started = time.perf_counter()
        try:
            model = await asyncio.to_thread(
                load, entry.path(self._storage), version=entry.version, checksum=entry.checksum
            )
        except UNLOADABLE as exc:
            self._refused = entry.version
            self._instruments.refused()
            log.error("model %s refused, still serving the one held: %s", entry.version, exc)
            return
        self._holder.swap(model)
        self._instruments.swapped(entry.version, time.perf_counter() - started)
        log.info("serving model %s", entry.version, extra={"seconds": round(time.perf_counter() - started, 3)})

    async def _step(self) -> Pass:
        await self.follow()
        return Pass()

    async def run_with(self, stop: asyncio.Event, js: JetStreamContext, *, stream: str, subject: str) -> None:
        """Follow the publications of `subject` on `stream`, and the poll, until `stop`."""

        async def heard(_msg: Msg) -> None:
            self._loop.wake()

        subscription = await js.subscribe(
            subject, stream=stream, cb=heard, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW
        )
        try:
            await self._loop.run(stop)
        finally:
            await subscription.unsubscribe()
