"""Probes of the log (JetStream): how much a stream holds against its limit, how far a
consumer is behind.

- `stream_messages{stream}`, `stream_bytes{stream}`: what a stream holds.
- `stream_limit_bytes{stream}`: the most it may hold before JetStream discards its oldest
  messages (the streams discard old, and in an event-sourced system that is losing the
  source of truth): the stream's own `max_bytes`, else the account's storage limit. Not
  exported while neither is set; deploy/README.md says to set one.
- `consumer_lag_messages{stream, consumer}`: messages of the consumer's partitions not yet
  acknowledged (pending + delivered but unacked).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from opentelemetry import metrics

from bullseye_platform.instruments.sampled import Probe


def stream_storage(js: JetStreamContext, stream: str) -> Probe:
    """A probe of one stream's size and limit."""
    meter = metrics.get_meter("bullseye.log")
    held = meter.create_gauge("stream_messages", description="messages held by the stream")
    size = meter.create_gauge("stream_bytes", description="bytes held by the stream")
    limit = meter.create_gauge("stream_limit_bytes", description="bytes the stream may hold before discarding")
    attributes = {"stream": stream}

    async def probe() -> None:
        info = await js.stream_info(stream)
        held.set(info.state.messages, attributes)
        size.set(info.state.bytes, attributes)
        bound = info.config.max_bytes or -1
        if bound <= 0:
            bound = (await js.account_info()).limits.max_storage
        if bound > 0:
            limit.set(bound, attributes)

    return probe


def consumer_lag(js: JetStreamContext, stream: str, durables: Callable[[], Sequence[str]]) -> Probe:
    """A probe of the lag of the durable consumers `durables()` names (read at each round:
    a projection deals its partitions to consumers when it starts)."""
    lag = metrics.get_meter("bullseye.log").create_gauge(
        "consumer_lag_messages", description="messages of the consumer's partitions not yet acknowledged"
    )

    async def probe() -> None:
        for durable in durables():
            try:
                info = await js.consumer_info(stream, durable)
            except NotFoundError:  # not made yet (a standby before any leader, a projection starting)
                continue
            behind = (info.num_pending or 0) + (info.num_ack_pending or 0)
            lag.set(behind, {"stream": stream, "consumer": durable})

    return probe
