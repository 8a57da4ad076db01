"""A call and its baseline measured in turn, round after round, on a shared machine.

Two closed loops run back to back (the baseline for ten seconds, then the call) see different
neighbours: on the shared 2-core machine, three such pairs on one unchanged profile process
gave GetProfile/Health.Check ratios of 0.79, 0.36 and 1.10 (load average 7-8, 2026-12-06).
Run in turn, a few seconds each, a neighbour's burst touches both more alike. Each side's figure stays
its best window (over every round), and the details keep every round's ratio and their median.
"""

from __future__ import annotations

import json
import statistics
import subprocess
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

Summary = dict[str, Any]  # a load generator's JSON summary, with the service's CPU per call (drive)


class Served(Protocol):
    """The server a load generator calls, as the bench sees it from outside."""

    def cpu_seconds(self) -> float:
        """CPU time of the serving processes so far."""

    def cache_lookups(self) -> dict[str, float]:
        """Answers its cache gave ("hit") or passed on ("miss") so far."""


def drive(server: Served, argv: Sequence[str], env: Mapping[str, str]) -> Summary:
    """Run a load generator (`argv`) in its own process; its JSON summary, with the server's
    CPU time per call (warm-up included: it varies far less than throughput on a shared
    machine) and the share of answers its cache gave.

    Raises:
        RuntimeError: the load generator failed; its stderr is in the message.
    """
    before, looked_up = server.cpu_seconds(), server.cache_lookups()
    done = subprocess.run(list(argv), capture_output=True, text=True, env=dict(env), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr[-2000:]}")
    summary: Summary = json.loads(done.stdout.strip().splitlines()[-1])
    spent = server.cpu_seconds() - before
    summary["service_cpu_us_per_call"] = round(spent / max(summary["calls_total"], 1) * 1e6, 1)
    hits, misses = (server.cache_lookups().get(r, 0.0) - looked_up.get(r, 0.0) for r in ("hit", "miss"))
    if hits + misses:
        summary["cache_hit_share"] = round(hits / (hits + misses), 4)
    return summary


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
    latencies), every window, the calls and errors of all, and the CPU per call (the
    background's and the cache hit share too, when reported) weighted by each round's calls."""
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
    for weighted in ("service_cpu_us_per_call", "background_cpu_us_per_call", "cache_hit_share"):
        if all(weighted in s for s in summaries):
            best[weighted] = round(sum(s[weighted] * s["calls_total"] for s in summaries) / max(calls, 1), 4)
    return best
