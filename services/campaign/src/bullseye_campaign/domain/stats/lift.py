"""Relative lift of a variant over the control, as GrowthBook's frequentist engine does it.

The documented engine (docs.growthbook.io/statistics/details): lift = mu_T / mu_C - 1; its
variance by the delta method, var_T / (mu_C^2 n_T) + var_C mu_T^2 / (mu_C^4 n_C); a
two-sided Student's t test with Welch-Satterthwaite degrees of freedom; the interval
lift -/+ t(1 - alpha/2, df) * SE. For a proportion metric a unit's variance is p (1 - p).

Reading a fixed-sample p-value every day inflates false positives, so reports read daily
and guardrails checked on every poll use the anytime-valid alternative GrowthBook documents
(docs.growthbook.io/statistics/sequential): the asymptotic confidence sequence of
Waudby-Smith et al. (2023, eq. 161 for rho), tightest near `tuning` people.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import special


@dataclass(frozen=True)
class Sample:
    """One arm on one metric: people, the mean per person, and a person's variance."""

    n: int
    mean: float
    variance: float

    @classmethod
    def proportion(cls, successes: int, n: int) -> Sample:
        """A yes/no metric (converted, retained): the share that said yes."""
        p = successes / n if n else 0.0
        return cls(n, p, p * (1 - p))


@dataclass(frozen=True)
class LiftEstimate:
    lift: float
    standard_error: float
    degrees_of_freedom: float
    p_value: float
    ci_low: float
    ci_high: float
    sequential: bool

    @property
    def significant(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0


def not_computable(control: Sample, treatment: Sample) -> str | None:
    """Why no lift can be estimated from these samples, or None."""
    if control.n < 2 or treatment.n < 2:
        return "fewer than 2 people in an arm"
    if control.mean == 0:
        return "the control's rate is 0: a relative lift is undefined"
    if control.variance <= 0 or treatment.variance <= 0:  # as GrowthBook's engine: the delta method's error would be 0
        return "no variation in an arm (everyone or no one): the lift's standard error is 0"
    return None


def relative_lift(control: Sample, treatment: Sample, *, alpha: float = 0.05) -> LiftEstimate:
    """The fixed-sample estimate (read once, at the planned sample size).

    Raises:
        ValueError: when `not_computable` says why.
    """
    lift, variance, df = _moments(control, treatment)
    se = math.sqrt(variance)
    p_value = float(2 * special.stdtr(df, -abs(lift / se)))
    width = float(special.stdtrit(df, 1 - alpha / 2)) * se
    return LiftEstimate(lift, se, df, p_value, lift - width, lift + width, sequential=False)


def sequential_lift(control: Sample, treatment: Sample, *, alpha: float = 0.05, tuning: int = 5_000) -> LiftEstimate:
    """The anytime-valid estimate: an interval that may be read at any sample size.

    The p-value is the fixed-sample one (GrowthBook reports the interval as the decision
    tool in sequential mode); `significant` follows the interval.

    Raises:
        ValueError: when `not_computable` says why.
    """
    fixed = relative_lift(control, treatment, alpha=alpha)
    n = control.n + treatment.n
    log_alpha = -2 * math.log(alpha)
    rho_squared = (log_alpha + math.log(log_alpha + 1)) / tuning
    unit_variance = fixed.standard_error**2 * n
    width = math.sqrt(unit_variance) * math.sqrt(
        2 * (n * rho_squared + 1) / (n**2 * rho_squared) * math.log(math.sqrt(n * rho_squared + 1) / alpha)
    )
    return LiftEstimate(
        fixed.lift, fixed.standard_error, fixed.degrees_of_freedom, fixed.p_value,
        fixed.lift - width, fixed.lift + width, sequential=True,
    )  # fmt: skip


def _moments(control: Sample, treatment: Sample) -> tuple[float, float, float]:
    """(lift, variance of the lift, Welch-Satterthwaite degrees of freedom)."""
    if problem := not_computable(control, treatment):
        raise ValueError(problem)
    mu_c, mu_t = control.mean, treatment.mean
    lift = mu_t / mu_c - 1
    variance = treatment.variance / (mu_c**2 * treatment.n) + control.variance * mu_t**2 / (mu_c**4 * control.n)
    per_t, per_c = treatment.variance / treatment.n, control.variance / control.n
    df = (per_t + per_c) ** 2 / (per_t**2 / (treatment.n - 1) + per_c**2 / (control.n - 1))
    return lift, variance, df
