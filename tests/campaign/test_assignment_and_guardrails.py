"""Stable arms and rollout stages; guardrails that pause a harmful rollout and only that."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from bullseye.campaign.v1 import facts_pb2 as fpb
from bullseye_campaign.domain.assignment import CONTROL, Arm, arm_for, assign, exposed, in_rollout
from bullseye_campaign.domain.guardrails import ArmCounts, check, ready_to_advance
from bullseye_platform.assignment import Sha256Hash

ARMS = [Arm("a", 70), Arm("b", 30)]


@pytest.mark.parametrize(
    ("unit", "arm"),
    [(0.0, CONTROL), (0.0999, CONTROL), (0.1, "a"), (0.1 + 0.9 * 0.6999, "a"), (0.1 + 0.9 * 0.7, "b"), (0.99999, "b")],
)
def test_the_holdout_comes_first_then_variants_by_weight(unit: float, arm: str) -> None:
    assert arm_for(unit, ARMS, holdout_percent=10) == arm


def test_arms_follow_the_weights_over_many_people() -> None:
    hasher = Sha256Hash()
    counts = Counter(assign(hasher, "spring", f"p{i}", ARMS, holdout_percent=10) for i in range(20_000))
    assert counts[CONTROL] / 20_000 == pytest.approx(0.10, abs=0.01)
    assert counts["a"] / 20_000 == pytest.approx(0.63, abs=0.015)
    assert counts["b"] / 20_000 == pytest.approx(0.27, abs=0.015)


def test_a_persons_arm_never_changes_as_the_rollout_widens() -> None:
    hasher = Sha256Hash()
    people = [f"p{i}" for i in range(5_000)]
    arms = {p: assign(hasher, "spring", p, ARMS, holdout_percent=10) for p in people}
    stages = [{p for p in people if exposed(hasher, "spring", p, percent=pct)} for pct in (5, 20, 100)]
    assert stages[0] <= stages[1] <= stages[2] == set(people)  # a later stage only adds people
    assert len(stages[0]) / 5_000 == pytest.approx(0.05, abs=0.01)
    assert {p: assign(hasher, "spring", p, ARMS, holdout_percent=10) for p in people} == arms
    # The rollout hash is independent of the arm: a 20% stage holds every arm in proportion.
    in_stage = Counter(arms[p] for p in stages[1])
    assert in_stage[CONTROL] / len(stages[1]) == pytest.approx(0.10, abs=0.03)


def test_rollout_percent_boundaries() -> None:
    assert in_rollout(0.049, 5) and not in_rollout(0.05, 5) and in_rollout(0.999, 100)


def arm(name: str, audience: int, converted: int, share: float) -> ArmCounts:
    return ArmCounts(name, audience, converted, share)


def test_a_significant_drop_of_20_percent_or_more_trips_the_guardrail() -> None:
    alerts = check(arm(CONTROL, 10_000, 1_000, 0.5), [arm("a", 10_000, 700, 0.5)])
    assert [(a.kind, a.variant_id) for a in alerts] == [(fpb.ALERT_KIND_CONVERSION_DROP, "a")]
    assert alerts[0].detail.startswith("conversion lift -0.300 [")


def test_a_drop_that_is_not_significant_does_not_trip() -> None:
    assert check(arm(CONTROL, 200, 20, 0.5), [arm("a", 200, 14, 0.5)]) == []  # -30%, far too few people


def test_a_significant_but_small_drop_does_not_trip() -> None:
    assert check(arm(CONTROL, 100_000, 10_000, 0.5), [arm("a", 100_000, 9_000, 0.5)]) == []  # -10%


def test_the_drop_threshold_is_configurable() -> None:
    control, variant = arm(CONTROL, 100_000, 10_000, 0.5), arm("a", 100_000, 9_000, 0.5)
    assert [a.variant_id for a in check(control, [variant], max_drop=0.05)] == ["a"]


def test_a_variant_that_converts_nobody_trips_once_that_is_unlikely_by_chance() -> None:
    # Were it only 20% below the control's 10%, 8% of people converting: 0 of 30 happens 8% of the
    # time, 0 of 40 3.6% (under 5%).
    assert check(arm(CONTROL, 40, 4, 0.5), [arm("a", 30, 0, 0.5)]) == []
    alerts = check(arm(CONTROL, 40, 4, 0.5), [arm("a", 40, 0, 0.5)])
    assert [(a.kind, a.variant_id) for a in alerts] == [(fpb.ALERT_KIND_CONVERSION_DROP, "a")]
    assert "no conversions among 40 people" in alerts[0].detail


def test_a_sample_ratio_mismatch_trips_on_its_own() -> None:
    alerts = check(arm(CONTROL, 10_000, 1_000, 0.5), [arm("a", 10_700, 1_070, 0.5)])
    assert [a.kind for a in alerts] == [fpb.ALERT_KIND_SAMPLE_RATIO_MISMATCH]
    assert alerts[0].detail == "control 10000, a 10700; chi2 23.67, p 1.1e-06 < 0.001"


def test_automatic_advance_waits_for_time_size_and_healthy_guardrails() -> None:
    start, arms = datetime(2026, 1, 1, tzinfo=UTC), [arm(CONTROL, 500, 50, 0.5), arm("a", 500, 55, 0.5)]
    ready = dict(stage_started_at=start, min_stage_duration=timedelta(hours=24), min_arm_size=500, arms=arms)
    assert ready_to_advance(now=start + timedelta(hours=24), alerts=[], **ready)  # type: ignore[arg-type]
    assert not ready_to_advance(now=start + timedelta(hours=23), alerts=[], **ready)  # type: ignore[arg-type]
    tripped = check(arm(CONTROL, 10_000, 1_000, 0.5), [arm("a", 10_000, 700, 0.5)])
    assert not ready_to_advance(now=start + timedelta(days=2), alerts=tripped, **ready)  # type: ignore[arg-type]
    small = {**ready, "min_arm_size": 501}
    assert not ready_to_advance(now=start + timedelta(days=2), alerts=[], **small)  # type: ignore[arg-type]
