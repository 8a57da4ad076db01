"""The bench harness end to end in its tiny mode, and its planning and ratios.

Figures on a shared machine vary; these tests check the shape of the results, never
timings or targets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bullseye_devtools.bench import catalog, report
from bullseye_devtools.bench.registry import Result, Target, plan

EXPECTED = {
    "nats.publish_async",
    "nats.publish_async.strict",
    "nats.atomic_batch.latency_p50",
    "nats.atomic_batch.latency_p99",
    "ingest.trackbatch.throughput",
    "ingest.trackbatch.latency_p50",
    "ingest.trackbatch.latency_p99",
    "ingest.rss_peak",
}


def run_bench(tmp_path: Path, *args: str) -> dict[str, dict[str, object]]:
    output = tmp_path / "bench-results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bullseye_devtools.bench", "--quick", "--output", str(output), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(output.read_text())
    assert {"cpu_count", "cpu_model", "python", "platform", "nats_server", "date"} <= set(document["machine"])
    return {entry["name"]: entry for entry in document["results"]}


def test_quick_run_writes_every_result_with_its_ratio(tmp_path: Path) -> None:
    results = run_bench(tmp_path)
    assert set(results) == EXPECTED
    for entry in results.values():
        assert isinstance(entry["value"], float) and entry["value"] > 0, entry
    throughput = results["ingest.trackbatch.throughput"]
    baseline = throughput["baseline"]
    assert isinstance(baseline, dict) and baseline["name"] == "nats.publish_async"
    assert baseline["value"] == results["nats.publish_async"]["value"]
    assert throughput["ratio"] == pytest.approx(throughput["value"] / baseline["value"], rel=1e-3)
    assert throughput["target"] == "ratio >= 0.7"
    latency = results["ingest.trackbatch.latency_p99"]
    assert latency["target"] == "<= 25"
    assert latency["baseline"] == {
        "name": "nats.atomic_batch.latency_p99",
        "value": results["nats.atomic_batch.latency_p99"]["value"],
    }


def test_only_runs_the_selection_and_what_it_needs() -> None:
    catalog.load()
    assert [b.name for b in plan("nats.publish_async.strict")] == ["nats.publish_async", "nats.publish_async.strict"]
    assert [b.name for b in plan("ingest.trackbatch.latency_p99")] == [
        "nats.publish_async",
        "nats.atomic_batch.latency",
        "ingest.trackbatch.throughput",
        "ingest.trackbatch.latency",
    ]
    assert len(plan("ingest")) == 5
    with pytest.raises(KeyError):
        plan("no-such-benchmark")


def test_ratio_and_verdict_follow_the_target() -> None:
    base = Result("base", 200.0, "events/s")
    fast = Result("fast", 150.0, "events/s", baseline="base", target=Target(">=", 0.7, on="ratio"))
    slow = Result("slow", 30.0, "ms", target=Target("<=", 25.0))
    by_name = {r.name: r for r in (base, fast, slow)}
    assert report.ratio(fast, by_name) == pytest.approx(0.75)
    assert report.verdict(fast, by_name) is True
    assert report.verdict(slow, by_name) is False
    assert report.verdict(base, by_name) is None
    assert "FAIL" in report.table([base, fast, slow])
