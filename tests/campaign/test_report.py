"""The report: intent-to-treat rates, ROI, uplift against the control, the sample-ratio check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bullseye.campaign.v1 import records_pb2 as rpb
from bullseye_campaign.domain.report import ArmTotals, ReportOptions, build, money

NOW = datetime(2026, 1, 20, tzinfo=UTC)
CONTROL = ArmTotals(arm="control", control=True, share=0.5, audience=10_000, converted=1_000, retained=3_000,
                    revenue=50_000.0)  # fmt: skip
VARIANT = ArmTotals(arm="a", share=0.5, audience=10_000, sent=9_000, delivered=8_000, opened=4_000, clicked=800,
                    converted=1_100, retained=3_000, revenue=60_000.0, cost=900.0)  # fmt: skip


def report(*arms: ArmTotals, sequential: bool = False) -> rpb.Report:
    options = ReportOptions(currency="EUR", sequential=sequential)
    return build(campaign_id="spring", version=3, computed_at=NOW, rollout_percent=100, arms=arms, options=options)


def test_arm_kpis() -> None:
    variant = report(CONTROL, VARIANT).arms[1]
    assert variant.click_through_rate == pytest.approx(800 / 8_000)  # clicks over deliveries
    assert variant.conversion_rate == pytest.approx(1_100 / 10_000)  # over everyone assigned
    assert variant.retention_rate == pytest.approx(0.3)
    assert variant.roi == pytest.approx((60_000 - 900) / 900)
    assert (variant.revenue.units, variant.cost.units, variant.cost.currency_code) == (60_000, 900, "EUR")


def test_the_control_costs_nothing_and_has_no_roi() -> None:
    control = report(CONTROL, VARIANT).arms[0]
    assert control.control and not control.HasField("roi") and control.click_through_rate == 0.0


def test_conversion_uplift_is_the_issue_vector_with_incremental_revenue() -> None:
    conversion, retention = report(CONTROL, VARIANT).uplifts
    assert conversion.metric == rpb.REPORT_METRIC_CONVERSION and conversion.computed
    assert (conversion.lift, conversion.p_value) == pytest.approx((0.1, 0.02789), abs=5e-6)
    assert (conversion.ci_low, conversion.ci_high) == pytest.approx((0.010865, 0.189135), abs=5e-7)
    assert conversion.significant and not conversion.sequential
    assert conversion.incremental_revenue.units == 10_000  # (6.00 - 5.00) per person x 10,000
    assert conversion.incremental_roi == pytest.approx((10_000 - 900) / 900)
    assert retention.metric == rpb.REPORT_METRIC_RETENTION
    assert (retention.lift, retention.significant) == (pytest.approx(0.0), False)


def test_sequential_reports_are_wider() -> None:
    fixed, sequential = report(CONTROL, VARIANT).uplifts[0], report(CONTROL, VARIANT, sequential=True).uplifts[0]
    assert sequential.sequential and sequential.ci_high - sequential.ci_low > fixed.ci_high - fixed.ci_low


def test_without_a_control_the_uplift_says_why() -> None:
    alone = ArmTotals(arm="a", share=1.0, audience=100, converted=5)
    uplift = report(alone).uplifts[0]
    assert (uplift.computed, uplift.note) == (False, "no control: set holdout_percent to measure uplift")
    assert not report(alone).HasField("sample_ratio")


def test_an_uncomputable_uplift_says_why() -> None:
    empty_control = ArmTotals(arm="control", control=True, share=0.5, audience=1_000)
    uplift = report(empty_control, VARIANT).uplifts[0]
    assert not uplift.computed and "control's rate is 0" in uplift.note


def test_the_sample_ratio_check_uses_the_configured_shares() -> None:
    skewed = ArmTotals(arm="a", share=0.5, audience=10_300, converted=1_100)
    ratio = report(ArmTotals(arm="control", control=True, share=0.5, audience=10_000), skewed).sample_ratio
    assert (ratio.chi_square, ratio.p_value, ratio.mismatch) == (pytest.approx(4.4335, abs=5e-5),
                                                                 pytest.approx(0.0352, abs=5e-5), False)  # fmt: skip


@pytest.mark.parametrize(
    ("amount", "units", "nanos"),
    [(12.5, 12, 500_000_000), (-1.75, -1, -750_000_000), (0.002, 0, 2_000_000), (-0.25, 0, -250_000_000)],
)
def test_money_keeps_units_and_nanos_of_one_sign(amount: float, units: int, nanos: int) -> None:
    value = money(amount, "EUR")
    assert (value.units, value.nanos) == (units, nanos)
