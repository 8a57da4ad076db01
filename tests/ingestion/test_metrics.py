"""What SREs scrape: Prometheus metrics of a real ingestion process."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye_devtools.stack.services import ServiceProcess

from tests import channels
from tests.conftest import create_key
from tests.ingestion import helpers as h


@pytest.fixture(scope="module")
def metered(ingestion_env: dict[str, str], stack_dir: Path) -> Iterator[tuple[ServiceProcess, int]]:
    env = {**ingestion_env, "INGESTION_METRICS_PORT": "0"}  # any free port, reported when ready
    service = ServiceProcess("ingestion", "bullseye_ingestion", env, stack_dir / "logs-metrics").start()
    yield service, service.metrics_port
    service.stop()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the series `name` whose labels include `labels` (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_event_outcomes_and_rpc_calls_are_exposed_for_prometheus(metered, ingestion_env):
    service, port = metered
    key = create_key(ingestion_env, "--source", "metrics-test")
    good, bad = h.event(), h.event()
    bad.ClearField("occurred_at")
    async with channels.channel(service.address, caller=None) as channel:
        api = h.stub(channel)
        await h.batch(api, key, [good, bad, good])
        await h.failure(api.TrackBatch(pb.TrackBatchRequest(events=[good])))  # no key

    url = f"http://127.0.0.1:{port}/metrics"
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    for status in ("accepted", "duplicate", "rejected"):
        assert sample(text, "ingestion_events_total", status=status, source="metrics-test") == 1, status
    method = "/bullseye.ingestion.v1.IngestionService/TrackBatch"
    assert sample(text, "rpc_server_calls_total", rpc_method=method, rpc_grpc_status_code="OK") == 1
    assert sample(text, "rpc_server_calls_total", rpc_method=method, rpc_grpc_status_code="UNAUTHENTICATED") == 1
    assert re.search(r"^rpc_server_duration_milliseconds_bucket\{", text, re.M)
