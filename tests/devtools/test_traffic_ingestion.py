"""Generated traffic through the real ingestion service, and the sender's retry rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bullseye_devtools.stack.services import ServiceProcess
from bullseye_devtools.traffic import SendOptions, generate, send
from bullseye_devtools.traffic.catalog import build_catalog
from bullseye_devtools.traffic.catalog_feed import catalog_changes, publish_catalog
from bullseye_devtools.traffic.sender import SendError

from tests.conftest import create_key


async def test_every_generated_event_is_accepted_by_ingestion(
    ingestion: ServiceProcess, ingestion_env: dict[str, str]
) -> None:
    key = create_key(ingestion_env, "--source", "traffic-test", "--rate", "100000", "--burst", "20000")
    events = list(generate(250, 1001))
    stats = await send(events, address=ingestion.address, api_key=key)
    assert stats.rejected == 0, stats.rejections
    assert (stats.accepted, stats.duplicates) == (len(events), 0)
    assert stats.calls == -(-len(events) // 100) and stats.percentile(0.99) > 0


async def test_resending_the_same_events_stores_nothing_new(
    ingestion: ServiceProcess, ingestion_env: dict[str, str]
) -> None:
    key = create_key(ingestion_env, "--source", "traffic-test", "--rate", "100000", "--burst", "20000")
    events = list(generate(20, 1002))
    await send(events, address=ingestion.address, api_key=key)
    again = await send(events, address=ingestion.address, api_key=key)
    assert (again.accepted, again.duplicates) == (0, len(events))


async def test_throttled_batches_are_retried_after_retry_info(
    ingestion: ServiceProcess, ingestion_env: dict[str, str]
) -> None:
    key = create_key(ingestion_env, "--source", "traffic-slow", "--rate", "2000", "--burst", "200")
    events = list(generate(60, 1003))[:1500]
    stats = await send(events, address=ingestion.address, api_key=key)
    assert stats.retries["RESOURCE_EXHAUSTED"] > 0
    assert (stats.accepted, stats.rejected) == (len(events), 0)


async def test_a_batch_over_the_keys_burst_fails_without_retrying(
    ingestion: ServiceProcess, ingestion_env: dict[str, str]
) -> None:
    key = create_key(ingestion_env, "--source", "traffic-tiny", "--rate", "1000", "--burst", "50")
    with pytest.raises(SendError, match=r"RESOURCE_EXHAUSTED.*burst"):
        await send(list(generate(20, 1004))[:100], address=ingestion.address, api_key=key, options=SendOptions())


async def test_the_catalog_feed_is_published_once_from_a_catalog_key(
    ingestion: ServiceProcess, ingestion_env: dict[str, str]
) -> None:
    key = create_key(ingestion_env, "--source", "traffic-catalog", "--catalog")
    changes = catalog_changes(build_catalog(1005), at=datetime(2026, 1, 1, tzinfo=UTC))

    first = await publish_catalog(changes, address=ingestion.address, api_key=key)
    again = await publish_catalog(changes, address=ingestion.address, api_key=key)

    assert (first.accepted, first.duplicates, first.rejected) == (len(changes), 0, 0), first.rejections
    assert (again.accepted, again.duplicates) == (0, len(changes))
    with pytest.raises(SendError, match="PERMISSION_DENIED"):
        await send(list(generate(2, 1005)), address=ingestion.address, api_key=key)
