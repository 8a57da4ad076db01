"""Frequency caps as a decision over a person's recorded sends.

A cap allows at most N messages per window, on one channel or on all, counting this
campaign's messages or every campaign's. The window is a rolling span ending now, or the
current calendar day in the person's time zone and the N-1 days before it (so "3 per day"
resets at local midnight, and a DST day is 23 or 25 hours long). The lifetime cap counts
this campaign's messages to the person, ever.

This is the pure rule; exactness under concurrency (two campaigns sending at once, a
retry) is the store's job: it reserves the send in the same transaction that reads the
sends counted here, so the count cannot change between the check and the send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bullseye.campaign.v1 import definition_pb2 as cpb

from bullseye_campaign.domain.localtime import local_start

ANY_CHANNEL = cpb.Channel.CHANNEL_UNSPECIFIED


@dataclass(frozen=True)
class Send:
    """A message recorded as sent (or reserved) to the person."""

    campaign_id: str
    channel: int
    at: datetime


@dataclass(frozen=True)
class CapVerdict:
    """A cap with no room left, and what to tell the operator about it."""

    detail: str


def window_start(cap: cpb.FrequencyCap, now: datetime, tz: ZoneInfo) -> datetime:
    """The first instant the cap counts from."""
    if cap.window.WhichOneof("kind") == "rolling":
        return now - cap.window.rolling.ToTimedelta()
    first_day = now.astimezone(tz).date() - timedelta(days=cap.window.calendar_days - 1)
    return local_start(first_day, time(0), tz)


def counted(cap: cpb.FrequencyCap, send: Send, *, campaign_id: str) -> bool:
    """Whether `send` counts toward `cap` for a message of `campaign_id`."""
    if cap.channel != ANY_CHANNEL and send.channel != cap.channel:
        return False
    return cap.scope != cpb.CAP_SCOPE_THIS_CAMPAIGN or send.campaign_id == campaign_id


def full_cap(
    limits: cpb.Limits, sends: Sequence[Send], *, campaign_id: str, channel: int, now: datetime, tz: ZoneInfo
) -> CapVerdict | None:
    """The first cap (or the lifetime cap) that leaves no room for one more message, or None."""
    if limits.lifetime_cap:
        lifetime = sum(1 for send in sends if send.campaign_id == campaign_id)
        if lifetime >= limits.lifetime_cap:
            return CapVerdict(f"lifetime cap {limits.lifetime_cap} per person: {lifetime} sent")
    for cap in limits.caps:
        if cap.channel != ANY_CHANNEL and cap.channel != channel:
            continue
        start = window_start(cap, now, tz)
        used = sum(1 for send in sends if start <= send.at <= now and counted(cap, send, campaign_id=campaign_id))
        if used >= cap.max_messages:
            return CapVerdict(f"{describe(cap)}: {used} sent since {start.astimezone(tz).isoformat()} ({tz.key})")
    return None


def describe(cap: cpb.FrequencyCap) -> str:
    channel = "any channel" if cap.channel == ANY_CHANNEL else cpb.Channel.Name(cap.channel).removeprefix("CHANNEL_")
    if cap.window.WhichOneof("kind") == "rolling":
        window = f"rolling {cap.window.rolling.ToTimedelta()}"
    else:
        window = f"{cap.window.calendar_days} calendar day(s)"
    scope = "this campaign" if cap.scope == cpb.CAP_SCOPE_THIS_CAMPAIGN else "all campaigns"
    return f"cap {channel} <= {cap.max_messages} per {window} ({scope})"
