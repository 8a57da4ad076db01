"""The short lower-case names of the contract's enums ("push", "running") that messages,
payloads and decisions' details use.

Cached: the send path names channels and states for every message, and a protobuf enum's
`Name()` costs ~0.3 us (its value attributes, `cpb.Channel.CHANNEL_PUSH`, ~0.8 us: hot code
uses the module's constants, `cpb.CHANNEL_PUSH`, 0.01 us).
"""

from __future__ import annotations

import functools

from bullseye.campaign.v1 import definition_pb2 as cpb


@functools.cache
def channel(value: int) -> str:
    return cpb.Channel.Name(value).removeprefix("CHANNEL_").lower()  # type: ignore[arg-type]


@functools.cache
def state(value: int) -> str:
    return cpb.CampaignState.Name(value).removeprefix("CAMPAIGN_STATE_").lower()  # type: ignore[arg-type]
