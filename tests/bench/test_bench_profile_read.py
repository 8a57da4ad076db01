"""The profile read benchmark in its tiny mode: it runs end to end and reports every figure
with its baseline and target (shape only: figures on a shared machine are never checked)."""

from __future__ import annotations

import pytest

from tests.bench.test_bench import Entries, run_bench

NAMES = {
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
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Entries:
    return run_bench(tmp_path_factory.mktemp("bench"), "--only", "profile.read")


def test_getprofile_is_reported_beside_a_no_op_call_on_the_same_server(results: Entries) -> None:
    assert set(results) == NAMES
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
