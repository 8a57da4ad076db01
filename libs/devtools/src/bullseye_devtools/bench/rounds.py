"""A call and its baseline measured in turn, round after round, on a shared machine.

Two closed loops run back to back (the baseline for ten seconds, then the call) see different
neighbours: on the shared 2-core machine, three such pairs on one unchanged profile process
gave GetProfile/Health.Check ratios of 0.79, 0.36 and 1.10 (load average 7-8, 2026-12-06).
Run in turn, a few seconds each, a neighbour's burst touches both more alike. Each side's figure stays
its best window (over every round), and the details keep every round's ratio and their median.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

Summary = dict[str, Any]  # a load generator's JSON summary, with the service's CPU per call (drive)


def in_turn(rounds: int, baseline: Callable[[], Summary], call: Callable[[], Summary]) -> tuple[Summary, Summary]:
    """`baseline` then `call`, `rounds` times; each side's summaries merged (`merged`), and the
    call's with `round_ratios` (its best window over the baseline's, per round) and their median."""
    pairs = [(baseline(), call()) for _ in range(rounds)]
    ratios = [round(c["calls_per_s"] / b["calls_per_s"], 3) if b["calls_per_s"] else 0.0 for b, c in pairs]
    measured = merged([c for _, c in pairs])
    measured.update(round_ratios=ratios, round_ratio_median=statistics.median(ratios))
    return merged([b for b, _ in pairs]), measured


def merged(summaries: Sequence[Summary]) -> Summary:
    """One side's rounds as one summary: the round with the best window (its rate and
    latencies), every window, the calls and errors of all, and the CPU per call (and cache
    hit share, when reported) weighted by each round's calls."""
    best = dict(max(summaries, key=lambda s: s["calls_per_s"]))
    calls = sum(s["calls_total"] for s in summaries)
    best.update(
        rounds=len(summaries),
        window_calls_per_s=[w for s in summaries for w in s["window_calls_per_s"]],
        calls=sum(s["calls"] for s in summaries),
        calls_total=calls,
        errors=sum(s["errors"] for s in summaries),
        error_codes=dict(sum((Counter(s["error_codes"]) for s in summaries), Counter())),
    )
    for weighted in ("service_cpu_us_per_call", "cache_hit_share"):
        if all(weighted in s for s in summaries):
            best[weighted] = round(sum(s[weighted] * s["calls_total"] for s in summaries) / max(calls, 1), 4)
    return best
