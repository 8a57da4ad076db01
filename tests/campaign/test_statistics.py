"""Report statistics equal GrowthBook's documented engine, scipy's distributions, and keep
their error rates in simulated A/A tests (seeded: the same draws on every run)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bullseye_campaign.domain.stats.lift import Sample, not_computable, relative_lift, sequential_lift
from bullseye_campaign.domain.stats.ratio import sample_ratio
from scipy import stats

CONTROL, TREATMENT = Sample.proportion(1_000, 10_000), Sample.proportion(1_100, 10_000)


def test_lift_matches_the_issue_vector() -> None:
    estimate = relative_lift(CONTROL, TREATMENT)
    assert estimate.lift == pytest.approx(0.1000, abs=5e-5)
    assert estimate.standard_error == pytest.approx(0.045475, abs=5e-7)
    assert estimate.p_value == pytest.approx(0.02789, abs=5e-6)
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((0.010865, 0.189135), abs=5e-7)
    assert estimate.significant


def test_welch_degrees_of_freedom_of_the_vector() -> None:
    # (s_t^2/n_t + s_c^2/n_c)^2 / ((s_t^2/n_t)^2/(n_t-1) + (s_c^2/n_c)^2/(n_c-1)), p(1-p) variances.
    assert relative_lift(CONTROL, TREATMENT).degrees_of_freedom == pytest.approx(19962.71, abs=0.01)


def test_sample_ratio_matches_the_issue_vector() -> None:
    ratio = sample_ratio([10_000, 10_300], [50, 50])
    assert ratio.chi_square == pytest.approx(4.4335, abs=5e-5)
    assert ratio.p_value == pytest.approx(0.0352, abs=5e-5)
    assert not ratio.mismatch  # flagged only below 0.001


def test_a_real_mismatch_is_flagged() -> None:
    assert sample_ratio([10_000, 10_600], [50, 50]).mismatch
    assert not sample_ratio([9_000, 1_000], [90, 10]).mismatch


def _oracle(control: Sample, treatment: Sample) -> tuple[float, float, float]:
    """p-value and interval from the documented formulas with scipy.stats' t distribution."""
    mc, mt = control.mean, treatment.mean
    var = treatment.variance / (mc**2 * treatment.n) + control.variance * mt**2 / (mc**4 * control.n)
    a, b = treatment.variance / treatment.n, control.variance / control.n
    df = (a + b) ** 2 / (a**2 / (treatment.n - 1) + b**2 / (control.n - 1))
    lift, se = mt / mc - 1, math.sqrt(var)
    half = stats.t.ppf(0.975, df) * se
    return 2 * stats.t.sf(abs(lift) / se, df), lift - half, lift + half


def test_lift_equals_scipy_on_random_cases() -> None:
    rng = np.random.default_rng(15)
    for _ in range(300):
        n_c, n_t = rng.integers(20, 50_000, size=2)
        c = Sample.proportion(int(rng.integers(1, n_c)), int(n_c))
        t = Sample.proportion(int(rng.integers(0, n_t + 1)), int(n_t))
        estimate = relative_lift(c, t)
        p_value, low, high = _oracle(c, t)
        assert estimate.p_value == pytest.approx(p_value, rel=1e-9, abs=1e-12)
        assert (estimate.ci_low, estimate.ci_high) == pytest.approx((low, high), rel=1e-9)


def test_sample_ratio_equals_scipy_chisquare_on_random_cases() -> None:
    rng = np.random.default_rng(16)
    for _ in range(300):
        arms = int(rng.integers(2, 6))
        weights = rng.integers(1, 100, size=arms).astype(float)
        observed = rng.integers(0, 20_000, size=arms)
        ours = sample_ratio(observed.tolist(), weights.tolist())
        expected = observed.sum() * weights / weights.sum()
        theirs = stats.chisquare(observed, expected)
        assert ours.chi_square == pytest.approx(theirs.statistic, rel=1e-9)
        assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-300)


def _aa_experiments(looks: int) -> list[list[tuple[Sample, Sample]]]:
    """2,000 A/A tests at a 10% rate, each read at `looks` growing sample sizes."""
    rng = np.random.default_rng(17)
    step = 1_000
    conversions = rng.binomial(1, 0.10, size=(2_000, 2, looks * step)).cumsum(axis=2)
    return [
        [
            (
                Sample.proportion(int(run[0, k * step - 1]), k * step),
                Sample.proportion(int(run[1, k * step - 1]), k * step),
            )
            for k in range(1, looks + 1)
        ]
        for run in conversions
    ]


def test_fixed_intervals_have_their_false_positive_rate_when_read_once() -> None:
    runs = _aa_experiments(looks=1)
    rate = sum(relative_lift(c, t).significant for [(c, t)] in runs) / len(runs)
    assert 0.035 <= rate <= 0.065


def test_sequential_intervals_stay_valid_when_read_at_every_look() -> None:
    runs = _aa_experiments(looks=10)
    fixed = sum(any(relative_lift(c, t).significant for c, t in run) for run in runs) / len(runs)
    sequential = sum(any(sequential_lift(c, t).significant for c, t in run) for run in runs) / len(runs)
    assert fixed > 0.10  # peeking at fixed-sample intervals inflates false positives ...
    assert sequential <= 0.05  # ... the confidence sequence keeps them under alpha


def test_a_sequential_interval_is_wider_than_the_fixed_one() -> None:
    fixed, sequential = relative_lift(CONTROL, TREATMENT), sequential_lift(CONTROL, TREATMENT)
    assert sequential.ci_low < fixed.ci_low and sequential.ci_high > fixed.ci_high
    assert sequential.lift == fixed.lift and sequential.sequential


@pytest.mark.parametrize(
    ("control", "treatment", "why"),
    [
        (Sample.proportion(0, 1_000), Sample.proportion(10, 1_000), "control's rate is 0"),
        (Sample.proportion(1, 1), Sample.proportion(10, 1_000), "fewer than 2 people"),
        (Sample.proportion(1_000, 1_000), Sample.proportion(1_000, 1_000), "no variation"),
        (Sample.proportion(30, 1_000), Sample.proportion(0, 1_000), "no variation in an arm"),  # once an INTERNAL
    ],
)
def test_a_lift_that_cannot_be_estimated_says_why(control: Sample, treatment: Sample, why: str) -> None:
    assert why in (not_computable(control, treatment) or "")
    with pytest.raises(ValueError, match=why):
        relative_lift(control, treatment)
