"""instruments.tally: per-call counts kept as integers and reported when a reader collects.

Each test runs in a fresh interpreter: a process has one global meter provider, set once.
"""

from __future__ import annotations

import json
import subprocess
import sys

COLLECT = """
import json
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from bullseye_platform.instruments.tally import tally

reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
{body}
points = {{}}
for resource in reader.get_metrics_data().resource_metrics:
    for scope in resource.scope_metrics:
        for metric in scope.metrics:
            for point in metric.data.data_points:
                labels = ",".join(f"{{k}}={{v}}" for k, v in sorted(point.attributes.items()))
                points[f"{{metric.name}}{{{{{{labels}}}}}}"] = [point.value, metric.data.is_monotonic]
print(json.dumps(points))
"""


def collected(body: str) -> dict[str, list[object]]:
    done = subprocess.run([sys.executable, "-c", COLLECT.format(body=body)], capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout))


def test_counts_are_reported_per_attribute_set_as_a_monotonic_counter() -> None:
    points = collected(
        "calls = tally('m', 'calls', description='calls')\n"
        "ok, failed = calls.bind({'code': 'OK'}), calls.bind({'code': 'INTERNAL'})\n"
        "for _ in range(3): ok.add()\n"
        "failed.add(2)\n"
    )
    assert points == {"calls{code=OK}": [3, True], "calls{code=INTERNAL}": [2, True]}


def test_whoever_asks_for_a_name_shares_its_counts() -> None:
    # Two servers in one process: OpenTelemetry ignores a second observable instrument of a
    # name, so a tally of its own would lose the second server's calls.
    points = collected(
        "first, second = tally('m', 'calls', description='calls'), tally('m', 'calls', description='calls')\n"
        "first.bind({'code': 'OK'}).add()\n"
        "second.bind({'code': 'OK'}).add()\n"
        "second.bind({'code': 'OK'}).add()\n"
    )
    assert points == {"calls{code=OK}": [3, True]}
