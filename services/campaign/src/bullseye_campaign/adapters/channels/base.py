"""What every channel adapter does: hand rendered messages to a channel and say, per message,
whether the channel took it, refused it for now (tried again later) or for good.

The idempotency key (the message id) travels with every message: as the `Idempotency-Key`
header over HTTP, inside the `Message-ID` of an email. A handoff may be repeated after a
crash between the channel accepting it and the commit that records it; the key is what lets
the receiver see the repeat for what it is.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import definition_pb2 as cpb


class HandoffOutcome(enum.Enum):
    SENT = "sent"  # the channel accepted it
    TRANSIENT = "transient"  # refused or unreachable for now: try again after a delay
    PERMANENT = "permanent"  # refused for good: dead-lettered


@dataclass(frozen=True)
class Outgoing:
    """One message on its way: who, where (an address or the person's devices) and what."""

    message_id: str
    campaign_id: str
    person_id: str
    channel: int
    message: apb.RenderedMessage
    address: str = ""
    device_ids: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Handoff:
    message_id: str
    outcome: HandoffOutcome
    error: str = ""  # what went wrong, without personal data


async def in_lanes(
    messages: Sequence[Outgoing], lanes: int, hand: Callable[[Outgoing], Awaitable[Handoff]]
) -> list[Handoff]:
    """`hand` every message, `lanes` at a time, results in the messages' order: a lane per
    connection takes the next message as its last is answered (a task per message waiting for a
    connection cost ~6 us more a message, and a broadcast's batch is 500)."""
    waiting = iter(enumerate(messages))
    answered: dict[int, Handoff] = {}

    async def lane() -> None:
        for at, outgoing in waiting:
            answered[at] = await hand(outgoing)

    await asyncio.gather(*(lane() for _ in range(min(lanes, len(messages)))))
    return [answered[at] for at in range(len(messages))]


class ChannelAdapter(Protocol):
    async def hand_off(self, messages: Sequence[Outgoing]) -> list[Handoff]:
        """One result per message, in order; never raises for a message's own failure."""
        ...

    async def close(self) -> None: ...


class Channels:
    """The adapters this deployment has, by campaign channel."""

    def __init__(self, adapters: Mapping[int, ChannelAdapter]) -> None:
        self._adapters = dict(adapters)

    def configured(self, channel: int) -> bool:
        return channel in self._adapters

    def missing(self, channels: Sequence[int]) -> list[int]:
        return [channel for channel in channels if channel not in self._adapters]

    async def hand_off(self, messages: Sequence[Outgoing]) -> dict[str, Handoff]:
        """Every message to its channel's adapter; message id -> result."""
        results: dict[str, Handoff] = {}
        for channel in sorted({m.channel for m in messages}):
            batch = [m for m in messages if m.channel == channel]
            adapter = self._adapters.get(channel)
            if adapter is None:
                name = cpb.Channel.Name(channel)  # type: ignore[arg-type]
                results.update((m.message_id, Handoff(m.message_id, HandoffOutcome.TRANSIENT,
                                                      f"{name} is not configured here")) for m in batch)  # fmt: skip
                continue
            results.update((h.message_id, h) for h in await adapter.hand_off(batch))
        return results

    async def close(self) -> None:
        for adapter in self._adapters.values():
            await adapter.close()
