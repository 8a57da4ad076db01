"""A stream's messages with the time JetStream stored each, read after a run.

Benchmarks that follow events through the chain read these times once the run is over:
nothing subscribes while the chain runs, so measuring costs it no CPU.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

Handler = Callable[[str, bytes, float], None]  # subject, payload, stored at (epoch seconds)


async def last_seq(js: JetStreamContext, stream: str) -> int:
    return int((await js.stream_info(stream)).state.last_seq)


async def stored_at_least(js: JetStreamContext, stream: str, count: int, *, within: float) -> int:
    """Wait until `stream` holds `count` messages (or `within` seconds pass); its last sequence."""
    deadline = time.monotonic() + within
    while True:
        last = await last_seq(js, stream)
        if last >= count or time.monotonic() > deadline:
            return last
        await asyncio.sleep(0.5)


async def read_stored(js: JetStreamContext, stream: str, first: int, last: int, handle: Handler) -> None:
    """Hand every message of `stream` from `first` to `last` to `handle` with its subject and stored time."""
    if last < first:
        return
    config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                            opt_start_seq=first)  # fmt: skip
    sub = await js.pull_subscribe("", stream=stream, config=config)
    try:
        done = first - 1
        while done < last:
            for msg in await sub.fetch(1000, timeout=10.0):
                handle(msg.subject, msg.data, msg.metadata.timestamp.timestamp())
                done = max(done, msg.metadata.sequence.stream)
    finally:
        await sub.unsubscribe()
