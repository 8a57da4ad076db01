"""bench.rounds: a call and its baseline in turn, each side's rounds merged into one figure."""

from __future__ import annotations

import pytest
from bullseye_devtools.bench.rounds import Summary, in_turn, merged


def loop(rate: float, windows: list[float], *, cpu: float, calls: int, errors: int = 0) -> Summary:
    return {"calls_per_s": rate, "window_calls_per_s": windows, "calls": calls - 10, "calls_total": calls,
            "errors": errors, "error_codes": {"UNAVAILABLE": errors} if errors else {}, "p99_ms": rate / 100,
            "service_cpu_us_per_call": cpu}  # fmt: skip


def test_the_baseline_and_the_call_alternate_and_each_round_has_its_ratio() -> None:
    ran: list[str] = []
    baselines = iter([loop(1000, [1000], cpu=300, calls=100), loop(500, [500], cpu=320, calls=50)])
    calls = iter([loop(700, [700], cpu=450, calls=70), loop(400, [400], cpu=470, calls=40)])

    def baseline() -> Summary:
        ran.append("baseline")
        return next(baselines)

    def call() -> Summary:
        ran.append("call")
        return next(calls)

    base, measured = in_turn(2, baseline, call)

    assert ran == ["baseline", "call", "baseline", "call"]
    assert measured["round_ratios"] == [0.7, 0.8]
    assert measured["round_ratio_median"] == pytest.approx(0.75)
    assert (base["calls_per_s"], measured["calls_per_s"]) == (1000, 700)  # each side's best window


def test_merged_rounds_keep_the_best_round_and_count_every_call_and_error() -> None:
    rounds = [loop(900, [850, 900], cpu=400, calls=300, errors=1), loop(1200, [1200, 1100], cpu=300, calls=100)]

    one = merged(rounds)

    assert one["calls_per_s"] == 1200 and one["p99_ms"] == 12  # the best round's figures go together
    assert one["window_calls_per_s"] == [850, 900, 1200, 1100]
    assert (one["rounds"], one["calls_total"], one["calls"], one["errors"]) == (2, 400, 380, 1)
    assert one["error_codes"] == {"UNAVAILABLE": 1}
    assert one["service_cpu_us_per_call"] == pytest.approx((400 * 300 + 300 * 100) / 400)  # weighted by calls
    assert "cache_hit_share" not in one  # reported by no round
