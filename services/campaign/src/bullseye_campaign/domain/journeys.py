"""A person's way through a campaign: waits that start and cancel, entering again, exiting.

"Viewed a product and did not add it to the cart within 10 minutes" is a wait started by
the `after` event and cancelled by an `unless` event before it is due; with `correlate_on`
only the wait for the same product is cancelled. An event that is both (a login, for "no
login for 3 days") cancels the running wait and starts a new one. The waits themselves are
durable rows of the platform's scheduled-job mechanism; this module says what to schedule
and what to cancel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.events.v1 import event_pb2

from bullseye_campaign.domain.events import field_value, matches

Policy = cpb.ReEntryPolicy
EVERY_WAIT = "*"  # the cancellation key when `correlate_on` is empty


@dataclass(frozen=True)
class WaitChange:
    """What one event does to a person's waits: a key to cancel, a wait to start (key, due)."""

    cancel: str | None = None
    start: tuple[str, datetime] | None = None


def on_event(rule: cpb.AfterEvent, event: event_pb2.Event, occurred_at: datetime) -> WaitChange:
    """The waits `event` (which happened at `occurred_at`) cancels and starts under `rule`."""
    cancel = start = None
    if rule.HasField("unless") and matches(rule.unless, event):
        cancel = _key(rule, event) if rule.correlate_on else EVERY_WAIT
    if matches(rule.after, event):
        start = (_key(rule, event) if rule.correlate_on else EVERY_WAIT, occurred_at + rule.delay.ToTimedelta())
    return WaitChange(cancel, start)


def _key(rule: cpb.AfterEvent, event: event_pb2.Event) -> str:
    value = field_value(getattr(event, event.WhichOneof("payload") or ""), rule.correlate_on)
    return f"{rule.correlate_on}={value}"


def re_entry_refusal(re_entry: cpb.ReEntry, *, last_entry_at: datetime | None, now: datetime) -> str | None:
    """Why the person may not enter again now, or None when they may."""
    if last_entry_at is None or re_entry.policy == Policy.RE_ENTRY_POLICY_EVERY_TIME:
        return None
    if re_entry.policy == Policy.RE_ENTRY_POLICY_ONCE_PER_PERIOD:
        allowed_at = last_entry_at + re_entry.period.ToTimedelta()
        if now >= allowed_at:
            return None
        return f"entered {last_entry_at.isoformat()}: once per period, again from {allowed_at.isoformat()}"
    return f"entered {last_entry_at.isoformat()}: once ever"


@dataclass(frozen=True)
class Standing:
    """What is known about the person since they entered, gathered by the service."""

    in_audience: bool
    in_excluded_segment: bool
    converted: bool
    exit_event: bool
    campaign_ended: bool


def exit_reason(rules: cpb.Exit, standing: Standing) -> str | None:
    """Why the person has left the campaign, or None while they are in it."""
    if standing.campaign_ended:
        return "the campaign ended"
    if rules.on_conversion and standing.converted:
        return "converted"
    if rules.on_segment_exit and not standing.in_audience:
        return "left the audience segment"
    if rules.on_segment_exit and standing.in_excluded_segment:
        return "entered an excluded segment"
    if standing.exit_event:
        return "an exit event happened"
    return None


def is_exit_event(rules: cpb.Exit, event: event_pb2.Event) -> bool:
    return any(matches(event_filter, event) for event_filter in rules.on_events)
