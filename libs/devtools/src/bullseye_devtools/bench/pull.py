"""The floor under any consumer: a bare JetStream pull consumer reading and acking a stream."""

from __future__ import annotations

import time

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy


async def pull_rate(nats_url: str, *, stream: str, subjects: str, count: int, fetch: int, first_seq: int = 0) -> float:
    """Messages per second reading and acking `count` messages of `stream` (from `first_seq`,
    else from the start) in batches of `fetch`, as the consumer compared with it fetches."""
    client = await nats.connect(nats_url)
    start = (
        {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": first_seq}
        if first_seq
        else {"deliver_policy": DeliverPolicy.ALL}
    )
    config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=-1, **start)
    try:
        sub = await client.jetstream().pull_subscribe(subjects, stream=stream, config=config)
        started, done = time.perf_counter(), 0
        while done < count:
            try:
                msgs = await sub.fetch(min(fetch, count - done), timeout=5.0)
            except NatsTimeoutError:
                raise TimeoutError(f"pull consumer: {done:,} of {count:,} messages after 5 s idle") from None
            for msg in msgs:
                await msg.ack()
            done += len(msgs)
        rate = count / (time.perf_counter() - started)
        await sub.unsubscribe()
        return rate
    finally:
        await client.close()
