"""Guardrails during a rollout: pause the campaign when a variant hurts, or the split is broken.

A variant trips the conversion guardrail when its conversion rate is `max_drop` (20%) or
more below the control's and the drop is significant. Guardrails are checked on every
poll, so they read the anytime-valid interval: checking a fixed-sample interval that often
would pause healthy campaigns by chance. A variant that converts nobody has no interval (its
standard error is 0) and is held to an exact bound instead. A sample-ratio mismatch trips on its own: the
arms are not what was configured, so no comparison can be trusted.

Automatic rollout advances a stage only when the stage ran long enough, every arm has
enough people, and no guardrail trips.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bullseye.campaign.v1 import facts_pb2 as fpb

from bullseye_campaign.domain.stats.lift import Sample, not_computable, sequential_lift
from bullseye_campaign.domain.stats.ratio import SRM_ALPHA, sample_ratio

DEFAULT_MAX_DROP = 0.2
Kind = fpb.AlertKind


@dataclass(frozen=True)
class ArmCounts:
    """One arm at the current stage: people assigned, people converted, configured share."""

    arm: str
    audience: int
    converted: int
    share: float


@dataclass(frozen=True)
class Alert:
    kind: int
    variant_id: str
    detail: str


def check(
    control: ArmCounts, variants: list[ArmCounts], *, max_drop: float = 0.0, tuning: int = 5_000,
    srm_alpha: float = SRM_ALPHA,
) -> list[Alert]:  # fmt: skip
    """Every guardrail that trips now (empty: the campaign may go on)."""
    arms = [control, *variants]
    ratio = sample_ratio([a.audience for a in arms], [a.share for a in arms], alpha=srm_alpha)
    alerts = []
    if ratio.mismatch:
        sizes = ", ".join(f"{a.arm} {a.audience}" for a in arms)
        alerts.append(Alert(Kind.ALERT_KIND_SAMPLE_RATIO_MISMATCH, "", f"{sizes}; chi2 {ratio.chi_square:.2f}, "
                            f"p {ratio.p_value:.2g} < {srm_alpha:g}"))  # fmt: skip
    baseline = Sample.proportion(control.converted, control.audience)
    for variant in variants:
        if alert := _conversion_drop(baseline, variant, max_drop or DEFAULT_MAX_DROP, tuning):
            alerts.append(alert)
    return alerts


def _conversion_drop(baseline: Sample, variant: ArmCounts, max_drop: float, tuning: int) -> Alert | None:
    treated = Sample.proportion(variant.converted, variant.audience)
    if variant.converted == 0 and baseline.mean > 0:  # no interval (its error is 0): the worst drop of all
        return _no_conversions(baseline, variant, max_drop)
    if not_computable(baseline, treated):
        return None
    estimate = sequential_lift(baseline, treated, tuning=tuning)
    if estimate.lift <= -max_drop and estimate.ci_high < 0:
        detail = (f"conversion lift {estimate.lift:+.3f} [{estimate.ci_low:+.3f}, {estimate.ci_high:+.3f}] "
                  f"(anytime-valid 95%), at or below -{max_drop:g}")  # fmt: skip
        return Alert(Kind.ALERT_KIND_CONVERSION_DROP, variant.arm, detail)
    return None


def _no_conversions(baseline: Sample, variant: ArmCounts, max_drop: float, alpha: float = 0.05) -> Alert | None:
    """A variant that converted nobody, against an exact bound: were its rate only `max_drop` below
    the control's, `audience` people would all fail to convert with probability (1 - rate)^audience.

    Checking this on every poll keeps its false alarms under `alpha`: "nobody yet" at a later
    poll implies "nobody" at the first poll past the threshold, so it can trip at most once by chance.
    """
    rate = (1 - max_drop) * baseline.mean
    chance = (1 - rate) ** variant.audience
    if chance >= alpha:
        return None
    detail = (f"no conversions among {variant.audience} people against the control's {baseline.mean:.3f}: "
              f"{chance:.2g} likely at a rate {max_drop:g} below it")  # fmt: skip
    return Alert(Kind.ALERT_KIND_CONVERSION_DROP, variant.arm, detail)


def ready_to_advance(
    *, stage_started_at: datetime, now: datetime, min_stage_duration: timedelta, min_arm_size: int,
    arms: list[ArmCounts], alerts: list[Alert],
) -> bool:  # fmt: skip
    """Whether an AUTOMATIC rollout may move to its next stage now."""
    return (
        not alerts
        and now - stage_started_at >= min_stage_duration
        and all(arm.audience >= min_arm_size for arm in arms)
    )
