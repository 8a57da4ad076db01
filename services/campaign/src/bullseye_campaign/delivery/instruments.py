"""Delivery's metrics (dashboards and alerts, deploy/README.md):

- `campaign_decisions_total{outcome, reason}`: sends decided (sent, suppressed and why, held).
- `campaign_handoffs_total{channel, outcome}`: handoffs to channels by what became of the message:
  sent, retrying (a transient failure), dead_lettered (permanent, or out of attempts).
- `campaign_handoff_duration_seconds{channel}`: one batch's handoff to a channel, wall time.
- `campaign_alerts_total{kind}`: guardrails that paused a campaign.

Every handoff outcome and alert kind starts at 0, so that rates and alert rules have a series
before the first failure (an absent series reads as "no data", not as "no failure").
"""

from __future__ import annotations

import functools

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import facts_pb2 as fpb
from bullseye.campaign.v1 import records_pb2 as rpb
from opentelemetry import metrics

OUTCOMES = ("sent", "retrying", "dead_lettered")
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def _name(enum: object, value: int, prefix: str) -> str:
    return enum.Name(value).removeprefix(prefix).lower()  # type: ignore[attr-defined,no-any-return]


# Attribute sets built once per combination: a send batch counts hundreds of decisions.
@functools.cache
def _decision(outcome: int, reason: int) -> dict[str, str]:
    return {"outcome": _name(rpb.DecisionOutcome, outcome, "DECISION_OUTCOME_"),
            "reason": _name(rpb.DecisionReason, reason, "DECISION_REASON_")}  # fmt: skip


@functools.cache
def _handoff(channel: int, status: int) -> dict[str, str]:
    return {"channel": _name(cpb.Channel, channel, "CHANNEL_"),
            "outcome": _name(rpb.DeliveryStatus, status, "DELIVERY_STATUS_")}  # fmt: skip


class DeliveryInstruments:
    def __init__(self) -> None:
        meter = metrics.get_meter("bullseye.campaign")
        self._decisions = meter.create_counter("campaign_decisions", description="sends decided, by outcome and reason")
        self._handoffs = meter.create_counter("campaign_handoffs", description="handoffs to channels, by outcome")
        self._durations = meter.create_histogram(
            "campaign_handoff_duration", unit="s", description="one batch's handoff to a channel",
            explicit_bucket_boundaries_advisory=SECONDS,
        )  # fmt: skip
        self._alerts = meter.create_counter("campaign_alerts", description="guardrails that paused a campaign")
        for channel in cpb.Channel.values():
            if channel != cpb.CHANNEL_UNSPECIFIED:
                for outcome in OUTCOMES:
                    self._handoffs.add(0, {"channel": _name(cpb.Channel, channel, "CHANNEL_"), "outcome": outcome})
        for kind in fpb.AlertKind.values():
            if kind != fpb.ALERT_KIND_UNSPECIFIED:
                self._alerts.add(0, {"kind": _name(fpb.AlertKind, kind, "ALERT_KIND_")})

    def decided(self, outcome: int, reason: int, count: int = 1) -> None:
        """`count` sends decided with `outcome` for `reason` (a batch adds each pair once)."""
        self._decisions.add(count, _decision(outcome, reason))

    def handed_off(self, channel: int, status: int, count: int) -> None:
        """`count` messages of `channel` handed off, now in delivery `status`."""
        self._handoffs.add(count, _handoff(channel, status))

    def took(self, channel: int, seconds: float) -> None:
        self._durations.record(seconds, {"channel": _name(cpb.Channel, channel, "CHANNEL_")})

    def alerted(self, kind: int) -> None:
        self._alerts.add(1, {"kind": _name(fpb.AlertKind, kind, "ALERT_KIND_")})
