"""The campaign report: per-arm KPIs, uplift against the control, and the sample-ratio check.

Rates over the audience are intent-to-treat: everyone assigned to an arm counts, messaged
or not (capped, no consent, no contact), because the control is never messaged and only
whole arms compare fairly. CTR is clicks over deliveries (what the person could click).
ROI is (revenue - cost) / cost per arm; the incremental figures credit a variant only with
the revenue per person above the control's, which is what the campaign actually earned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bullseye.campaign.v1 import records_pb2 as rpb
from google.type import money_pb2

from bullseye_campaign.domain.stats.lift import LiftEstimate, Sample, not_computable, relative_lift, sequential_lift
from bullseye_campaign.domain.stats.ratio import SRM_ALPHA, sample_ratio

Metric = rpb.ReportMetric


@dataclass(frozen=True, kw_only=True)
class ArmTotals:
    """What the service counted for one arm (money in major units of the report's currency)."""

    arm: str
    control: bool = False
    share: float  # the configured share of the audience, 0..1
    audience: int
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    converted: int = 0
    retained: int = 0
    revenue: float = 0.0
    cost: float = 0.0


@dataclass(frozen=True, kw_only=True)
class ReportOptions:
    currency: str
    sequential: bool = False
    tuning: int = 5_000
    srm_alpha: float = SRM_ALPHA


def build(
    *, campaign_id: str, version: int, computed_at: datetime, rollout_percent: int, arms: Sequence[ArmTotals],
    options: ReportOptions,
) -> rpb.Report:  # fmt: skip
    """The report for `arms` (the control first, when there is one)."""
    report = rpb.Report(campaign_id=campaign_id, campaign_version=version, rollout_percent=rollout_percent)
    report.computed_at.FromDatetime(computed_at)
    report.arms.extend(arm_report(arm, options.currency) for arm in arms)
    control = next((arm for arm in arms if arm.control), None)
    for variant in (arm for arm in arms if not arm.control):
        report.uplifts.extend(uplifts(control, variant, options))
    if len(arms) >= 2 and all(arm.share > 0 for arm in arms):
        ratio = sample_ratio([a.audience for a in arms], [a.share for a in arms], alpha=options.srm_alpha)
        report.sample_ratio.CopyFrom(rpb.SampleRatio(chi_square=ratio.chi_square, p_value=ratio.p_value,
                                                     mismatch=ratio.mismatch))  # fmt: skip
    return report


def arm_report(arm: ArmTotals, currency: str) -> rpb.ArmReport:
    report = rpb.ArmReport(
        arm=arm.arm, control=arm.control, expected_share=arm.share, audience=arm.audience, sent=arm.sent,
        delivered=arm.delivered, opened=arm.opened, clicked=arm.clicked, converted=arm.converted,
        retained=arm.retained, revenue=money(arm.revenue, currency), cost=money(arm.cost, currency),
        click_through_rate=ratio(arm.clicked, arm.delivered), conversion_rate=ratio(arm.converted, arm.audience),
        retention_rate=ratio(arm.retained, arm.audience),
    )  # fmt: skip
    if arm.cost > 0:
        report.roi = (arm.revenue - arm.cost) / arm.cost
    return report


def uplifts(control: ArmTotals | None, variant: ArmTotals, options: ReportOptions) -> list[rpb.Uplift]:
    """The variant against the control on conversion, then retention."""
    return [
        _uplift(control, variant, Metric.REPORT_METRIC_CONVERSION, options),
        _uplift(control, variant, Metric.REPORT_METRIC_RETENTION, options),
    ]


def _uplift(control: ArmTotals | None, variant: ArmTotals, metric: int, options: ReportOptions) -> rpb.Uplift:
    uplift = rpb.Uplift(variant_id=variant.arm, metric=metric)  # type: ignore[arg-type]
    if control is None:
        uplift.note = "no control: set holdout_percent to measure uplift"
        return uplift
    field = "converted" if metric == Metric.REPORT_METRIC_CONVERSION else "retained"
    base = Sample.proportion(getattr(control, field), control.audience)
    treated = Sample.proportion(getattr(variant, field), variant.audience)
    if problem := not_computable(base, treated):
        uplift.note = problem
        return uplift
    estimate = _estimate(base, treated, options)
    uplift.MergeFrom(rpb.Uplift(
        lift=estimate.lift, standard_error=estimate.standard_error, degrees_of_freedom=estimate.degrees_of_freedom,
        p_value=estimate.p_value, ci_low=estimate.ci_low, ci_high=estimate.ci_high, significant=estimate.significant,
        sequential=estimate.sequential, computed=True,
    ))  # fmt: skip
    if metric == Metric.REPORT_METRIC_CONVERSION:
        _incremental(uplift, control, variant, options.currency)
    return uplift


def _estimate(base: Sample, treated: Sample, options: ReportOptions) -> LiftEstimate:
    if options.sequential:
        return sequential_lift(base, treated, tuning=options.tuning)
    return relative_lift(base, treated)


def _incremental(uplift: rpb.Uplift, control: ArmTotals, variant: ArmTotals, currency: str) -> None:
    extra = (variant.revenue / variant.audience - control.revenue / control.audience) * variant.audience
    uplift.incremental_revenue.CopyFrom(money(extra, currency))
    if variant.cost > 0:
        uplift.incremental_roi = (extra - variant.cost) / variant.cost


def ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def money(amount: float, currency: str) -> money_pb2.Money:
    """`amount` as google.type.Money: units and nanos share the sign, nanos rounded."""
    nanos_total = round(amount * 1e9)
    units = int(math.copysign(abs(nanos_total) // 1_000_000_000, nanos_total))
    return money_pb2.Money(currency_code=currency, units=units, nanos=nanos_total - units * 1_000_000_000)
