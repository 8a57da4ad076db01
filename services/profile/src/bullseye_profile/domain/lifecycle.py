"""Lifecycle stage and churn risk: functions of the person's activity and the clock.

Stages, first match wins (thresholds from ProfilePolicy, defaults in parentheses):
  churned  no activity for churned_after (180 d)
  dormant  no activity for dormant_after (60 d)
  new      first seen within new_within (30 d)
  stable   at least stable_orders (3) completed orders
  growing  otherwise: active, past the first weeks, still building a habit
"""

from __future__ import annotations

from datetime import datetime

from bullseye.profile.v1 import profile_pb2 as pb

from bullseye_profile.domain.policy import ProfilePolicy

L = pb.LifecycleStage


def stage(
    *, first_seen: datetime, last_seen: datetime, orders: int, now: datetime, policy: ProfilePolicy
) -> pb.LifecycleStage.ValueType:
    idle = (now - last_seen).total_seconds()
    if idle >= policy.churned_after:
        return L.LIFECYCLE_STAGE_CHURNED
    if idle >= policy.dormant_after:
        return L.LIFECYCLE_STAGE_DORMANT
    if (now - first_seen).total_seconds() <= policy.new_within:
        return L.LIFECYCLE_STAGE_NEW
    if orders >= policy.stable_orders:
        return L.LIFECYCLE_STAGE_STABLE
    return L.LIFECYCLE_STAGE_GROWING


def churn_risk(
    *, last_seen: datetime, first_purchase: datetime | None, last_purchase: datetime | None, orders: int,
    now: datetime, policy: ProfilePolicy,
) -> float:  # fmt: skip
    """0 while the person is inside their usual purchase cadence, rising to 1 at three cadences.

    cadence = mean gap between the person's orders ((last - first) / (orders - 1)), or
    default_purchase_gap with fewer than two orders; risk = clamp((idle / cadence - 1) / 2).
    """
    gap = policy.default_purchase_gap
    if orders >= 2 and first_purchase is not None and last_purchase is not None:
        gap = max((last_purchase - first_purchase).total_seconds() / (orders - 1), 1.0)
    idle = max((now - last_seen).total_seconds(), 0.0)
    return min(max((idle / gap - 1.0) / 2.0, 0.0), 1.0)
