"""The bench harness end to end in its tiny mode, and its planning and ratios.

Figures on a shared machine vary; these tests check the shape of the results, never
timings or targets.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
from bullseye_devtools.bench import campaign_hops, catalog, report
from bullseye_devtools.bench.registry import Result, Target, plan

from tests.tools import run_tool

# One quick run of every benchmark starts a dozen stacks: about 2 minutes on a quiet 2-core
# machine, more on a busy one; the subprocess's own limit (run_bench) is the real bound.
pytestmark = pytest.mark.timeout(480)  # run_bench: 420 s, then 20 s to stop

REALISTIC_TRAPS = ("household", "till", "placeholder", "shared-mailbox", "national-phone", "crm-backfill",
                   "out-of-order", "ordinary")  # fmt: skip
EXPECTED = {
    "platform.auth.admit_us",
    "platform.auth.verify_us",
    "platform.auth.open_call",
    "platform.auth.guarded_call",
    "nats.publish_async",
    "nats.publish_async.strict",
    "nats.atomic_batch.latency_p50",
    "nats.atomic_batch.latency_p99",
    "ingest.trackbatch.throughput",
    "ingest.trackbatch.latency_p50",
    "ingest.trackbatch.latency_p99",
    "ingest.rss_peak",
    "identity.quality.precision",
    "identity.quality.recall",
    "identity.quality.persons",
    "identity.quality.merges",
    "identity.quality.conflicts",
    "identity.quality.realistic.precision",
    "identity.quality.realistic.recall",
    *(f"identity.quality.{trap}.{figure}" for trap in REALISTIC_TRAPS for figure in ("precision", "recall")),
    "identity.events.pull_consume",
    "identity.resolve.throughput",
    "identity.rss_peak",
    "profile.read.health",
    "profile.read.getprofile",
    "profile.read.health_latency_p50",
    "profile.read.health_latency_p99",
    "profile.read.latency_p50",
    "profile.read.latency_p99",
    "profile.read.rss_peak",
    "profile.read.two_processes_health_latency_p50",
    "profile.read.two_processes_health_latency_p99",
    "profile.read.two_processes_latency_p50",
    "profile.read.two_processes_latency_p99",
    "profile.read.uncached_health",
    "profile.read.uncached_getprofile",
    "profile.read.uncached_latency_p99",
    "profile.resolved.pull_consume",
    "profile.project.throughput",
    "profile.rebuild.throughput",
    "profile.rss_peak",
    "profile.freshness.p50",
    "profile.freshness.p99",
    "recommendation.quality.hr_at_10",
    "recommendation.quality.ndcg_at_10",
    "recommendation.quality.hybrid_hr_at_10",
    "recommendation.quality.hybrid_ndcg_at_10",
    "recommendation.train.seconds",
    "recommendation.model.megabytes",
    "recommendation.model.call_p50",
    "recommendation.model.call_p99",
    "recommendation.read.health",
    "recommendation.read.recommend",
    "recommendation.read.health_latency_p99",
    "recommendation.read.latency_p50",
    "recommendation.read.latency_p99",
    "recommendation.read.uncached_health",
    "recommendation.read.uncached_recommend",
    "recommendation.read.uncached_latency_p99",
    "recommendation.rss_peak",
    "recommendation.swap.seconds",
    "campaign.broadcast.throughput",
    "campaign.trigger_to_send.p50",
    "campaign.trigger_to_send.p99",
    "campaign.trigger_to_send.all_orders.p50",
    "campaign.trigger_to_send.all_orders.p99",
    "campaign.rss_peak",
}
COUNTS = {"identity.quality.merges", "identity.quality.conflicts"}  # may be 0 in a tiny run


Entries = dict[str, dict[str, Any]]


def run_bench(tmp_path: Path, *args: str) -> Entries:
    output = tmp_path / "bench-results.json"
    done = run_tool(
        [sys.executable, "-m", "bullseye_devtools.bench", "--quick", "--output", str(output), *args], timeout=420
    )
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads(output.read_text())
    assert {"cpu_count", "cpu_model", "python", "platform", "nats_server", "date"} <= set(document["machine"])
    return {entry["name"]: entry for entry in document["results"]}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Entries:
    """One quick run of every benchmark, shared by the tests below (each run starts stacks)."""
    return run_bench(tmp_path_factory.mktemp("bench"))


def test_quick_run_writes_every_result_with_its_ratio(results: Entries) -> None:
    assert set(results) == EXPECTED
    for name, entry in results.items():
        assert isinstance(entry["value"], float), entry
        assert entry["value"] >= 0 if name in COUNTS else entry["value"] > 0, entry
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


def test_identity_reports_quality_against_ground_truth_and_throughput_beside_a_bare_consumer(results: Entries) -> None:
    precision, recall = results["identity.quality.precision"], results["identity.quality.recall"]
    assert (precision["target"], recall["target"]) == (">= 1", ">= 0.99")
    assert 0 < precision["value"] <= 1 and 0 < recall["value"] <= 1
    detail = precision["detail"]
    assert detail["accepted"] == detail["events"] and detail["unresolved"] == 0
    assert detail["scorable"] + sum(detail["unscorable"].values()) == detail["events"]
    assert set(detail["traps"]) == {"omnichannel", "family-app", "shared-browser", "stale-cookie", "buggy-sdk",
                                    "recycled-phone", "email-typo"}  # fmt: skip
    throughput = results["identity.resolve.throughput"]
    assert throughput["baseline"] == {"name": "identity.events.pull_consume",
                                      "value": results["identity.events.pull_consume"]["value"]}  # fmt: skip
    assert throughput["detail"]["events"] > 0


def test_identity_reports_quality_on_realistic_journeys_overall_and_per_trap(results: Entries) -> None:
    precision, recall = results["identity.quality.realistic.precision"], results["identity.quality.realistic.recall"]
    assert (precision["target"], recall["target"]) == (">= 0.99", ">= 0.97")
    detail = precision["detail"]
    assert detail["accepted"] + detail["rejected_by_ingestion"] == detail["events"]
    assert detail["scorable"] + sum(detail["unscorable"].values()) == detail["events"]
    assert set(detail["by_trap"]) == set(REALISTIC_TRAPS)
    assert sum(trap["events"] for trap in detail["by_trap"].values()) == detail["events"]
    for trap, figures in detail["by_trap"].items():
        assert results[f"identity.quality.{trap}.precision"]["value"] == figures["precision"]
        assert figures.items() <= results[f"identity.quality.{trap}.recall"]["detail"].items()
        assert 0 < figures["precision"] <= 1 and 0 < figures["recall"] <= 1
    assert results["identity.quality.precision"]["detail"]["by_trap"]  # the project's journeys per trap too


def test_profile_reports_projection_and_rebuild_beside_a_bare_consumer_and_freshness_per_hop(results: Entries) -> None:
    raw = results["profile.resolved.pull_consume"]
    for name in ("profile.project.throughput", "profile.rebuild.throughput"):
        assert results[name]["baseline"] == {"name": raw["name"], "value": raw["value"]}
        assert results[name]["detail"]["profile_cpu_us_per_event"] >= 0
    rebuild, live = results["profile.rebuild.throughput"], results["profile.project.throughput"]
    assert rebuild["target"] == ">= 15000"
    assert rebuild["detail"]["events"] > live["detail"]["events"] == raw["detail"]["events"]
    p50, p99 = results["profile.freshness.p50"], results["profile.freshness.p99"]
    assert p99["target"] == "<= 500" and p50["value"] <= p99["value"]
    detail = p99["detail"]
    assert detail["matched"] == detail["events"] > 0  # every event's shopper entered the segment
    assert detail["accepted_to_resolved_p99_ms"] > 0 and detail["resolved_to_entered_p99_ms"] > 0


def test_getprofile_is_reported_beside_a_no_op_call_on_the_same_server(results: Entries) -> None:
    health, reads = results["profile.read.health"], results["profile.read.getprofile"]
    assert reads["baseline"] == {"name": "profile.read.health", "value": health["value"]}
    assert reads["ratio"] == pytest.approx(reads["value"] / health["value"], rel=1e-3)
    assert reads["target"] == "ratio >= 0.6"
    for entry in (health, reads):
        assert entry["value"] > 0 and entry["detail"]["errors"] == 0
        assert entry["detail"]["service_cpu_us_per_call"] > 0
    cold = reads["detail"]["cold_read"]
    assert cold["calls"] == reads["detail"]["persons"] and cold["errors"] == 0  # every seeded person has a profile
    assert reads["detail"]["cache_hit_share"] > 0  # the process's read cache answered
    rounds = reads["detail"]["round_ratios"]  # the two loops ran in turn (bench.rounds)
    assert len(rounds) == reads["detail"]["rounds"] == health["detail"]["rounds"] and all(r > 0 for r in rounds)


def test_the_same_reads_are_reported_with_the_read_cache_off(results: Entries) -> None:
    health, reads = results["profile.read.uncached_health"], results["profile.read.uncached_getprofile"]
    assert reads["baseline"] == {"name": "profile.read.uncached_health", "value": health["value"]}
    assert reads["detail"]["errors"] == 0 and reads["detail"]["cache_hit_share"] == 0
    p99 = results["profile.read.uncached_latency_p99"]
    assert p99["value"] > 0 and p99["detail"]["cache_hit_share"] == 0 and p99["detail"]["errors"] == 0


def test_latency_at_a_fixed_rate_and_rss_are_reported(results: Entries) -> None:
    p50, p99 = results["profile.read.latency_p50"], results["profile.read.latency_p99"]
    assert 0 < p50["value"] <= p99["value"]
    assert p99["target"] == "<= 10"
    assert p99["baseline"] == {"name": "profile.read.health_latency_p99",
                               "value": results["profile.read.health_latency_p99"]["value"]}  # fmt: skip
    assert p99["detail"]["offered_calls_per_s"] == 1000.0 and p99["detail"]["errors"] == 0
    assert results["profile.read.rss_peak"]["value"] > 0


def test_latency_is_reported_again_with_two_serving_processes(results: Entries) -> None:
    p99 = results["profile.read.two_processes_latency_p99"]
    assert p99["target"] == "<= 10"
    assert p99["baseline"] == {"name": "profile.read.two_processes_health_latency_p99",
                               "value": results["profile.read.two_processes_health_latency_p99"]["value"]}  # fmt: skip
    for name in ("two_processes_health_latency_p99", "two_processes_latency_p99"):
        detail = results[f"profile.read.{name}"]["detail"]
        assert detail["serving_processes"] == 2 and detail["errors"] == 0
    assert p99["detail"]["cache_hit_share"] == 1.0  # every process's cache was filled before the clock


def test_recommendation_reports_quality_through_recommend_and_what_serving_costs(results: Entries) -> None:
    # The ALS peer (recommendation.quality.als_hr_at_10) trains on MovieLens-1M: full runs only.
    hr = results["recommendation.quality.hr_at_10"]
    assert hr["target"] == ">= 0.8" and 0 < hr["value"] <= 1
    assert hr["detail"]["cases"] > 0 and 0 <= hr["detail"]["hybrid"]["hr_at_10"] <= 1
    assert results["recommendation.train.seconds"]["target"] == "<= 300"
    assert results["recommendation.model.call_p50"]["target"] == "<= 1"
    assert results["recommendation.model.call_p99"]["detail"]["history"] == 50
    calls = results["recommendation.read.recommend"]
    assert calls["target"] == "ratio >= 0.7" and calls["baseline"]["name"] == "recommendation.read.health"
    for figure in ("recommendation.read.health", "recommendation.read.recommend"):  # the impressions' fold beside
        assert results[figure]["detail"]["background_cpu_us_per_call"] >= 0
    latency = results["recommendation.read.latency_p99"]
    assert latency["target"] == "<= 10"
    assert latency["baseline"]["name"] == "recommendation.read.health_latency_p99"
    assert results["recommendation.swap.seconds"]["detail"]["failed_calls"] == 0, "a swap fails no call"
    assert results["recommendation.rss_peak"]["target"] == "<= 300"


def test_campaign_reports_a_broadcast_and_each_order_matched_to_its_message(results: Entries) -> None:
    broadcast = results["campaign.broadcast.throughput"]
    assert broadcast["target"] == ">= 2000"
    detail = broadcast["detail"]
    assert detail["keys_distinct"] == detail["messages"], "one key per message at the sink"
    assert 0 < detail["messages"] < detail["people"], "the holdout got nothing"
    p50, p99 = results["campaign.trigger_to_send.p50"], results["campaign.trigger_to_send.p99"]
    assert p99["target"] == "<= 1000" and p50["value"] <= p99["value"]
    mixed = p99["detail"]
    assert mixed["messages"] == mixed["orders"] > 0, "every order's message arrived"
    assert mixed["orders"] == int(mixed["events"] * mixed["share"]) < mixed["events"], "orders in the shop's traffic"
    assert {"product_viewed", "consent_changed", "order_completed"} <= set(mixed["shop"]), "the shop's mix"
    stress = results["campaign.trigger_to_send.all_orders.p99"]["detail"]
    assert stress["messages"] == stress["orders"] == stress["events"] > 0, "every event an order, each one's message"
    for run in (mixed, stress):  # where the time went, each order followed through RESOLVED and its delivery
        assert run["hops_matched"] == run["orders"]
        assert set(run["hops_ms"]) == set(campaign_hops.HOPS)
        assert all(hop["p50"] <= hop["p99"] for hop in run["hops_ms"].values())
    assert results["campaign.rss_peak"]["target"] == "<= 300"


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
    assert [b.name for b in plan("identity.resolve")] == ["identity.throughput"]
    assert [b.name for b in plan("identity.quality")] == ["identity.quality", "identity.quality.realistic"]
    assert [b.name for b in plan("identity.quality.till")] == ["identity.quality.realistic"]
    assert [b.name for b in plan("identity.quality.precision")] == ["identity.quality"]
    assert [b.name for b in plan("profile.rebuild")] == ["profile.write"]
    assert [b.name for b in plan("profile.freshness.p99")] == ["profile.freshness"]
    assert [b.name for b in plan("campaign")] == ["campaign.broadcast", "campaign.trigger"]
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


def test_sigterm_stops_the_servers_a_run_started(tmp_path: Path) -> None:
    bench = subprocess.Popen(
        [sys.executable, "-m", "bullseye_devtools.bench", "--quick", "--output", str(tmp_path / "r.json"),
         "--only", "profile.read"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert bench.stderr is not None
    lines = []
    while not any("starting profile" in line for line in lines[-1:]):
        lines.append(bench.stderr.readline())
        assert lines[-1], "".join(lines)  # the run ended before it started profile
    workdir = next(line for line in lines if "work folder" in line).rsplit(" ", 1)[1].strip()
    servers = {p for p in psutil.process_iter(["cmdline"]) if workdir in " ".join(p.info["cmdline"] or ())}
    servers |= set(psutil.Process(bench.pid).children(recursive=True))
    assert any("postgres" in p.name() for p in servers) and any("nats-server" in p.name() for p in servers)

    bench.send_signal(signal.SIGTERM)

    assert bench.wait(timeout=60) != 0
    _, alive = psutil.wait_procs(servers, timeout=30)
    assert not alive
    shutil.rmtree(workdir)  # an interrupted run keeps its folder for a post-mortem: not this one's
