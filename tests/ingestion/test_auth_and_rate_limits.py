"""Who may call (API keys: missing, malformed, unknown, revoked, bearer) and how fast
(token buckets answered with RetryInfo and QuotaFailure)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from bullseye_devtools.stack.services import ServiceProcess
from google.rpc import error_details_pb2
from nats.aio.client import Client as NATS

from tests import channels
from tests.ingestion import helpers as h

# --- authentication -----------------------------------------------------------------------


async def test_call_without_a_key_is_unauthenticated_and_says_how_to_send_one(
    api: pb_grpc.IngestionServiceStub,
) -> None:
    error = await h.failure(api.TrackBatch(pb.TrackBatchRequest(events=[h.event()])))

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "x-api-key" in error.details() and "authorization: Bearer" in error.details()
    assert h.reason(error) == "CREDENTIALS_MISSING"


async def test_track_without_a_key_is_unauthenticated(api: pb_grpc.IngestionServiceStub) -> None:
    error = await h.failure(api.Track(pb.TrackRequest(event=h.event())))

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    "presented",
    ["not-a-key", "bk_only-two", "bk__secret", "xx_0123456789ab_secret"],
    ids=["no_prefix", "two_parts", "empty_id", "wrong_prefix"],
)
async def test_malformed_key_is_unauthenticated(
    presented: str, api: pb_grpc.IngestionServiceStub, nc: NATS, mark: int
) -> None:
    error = await h.failure(h.batch(api, presented, [h.event()]))

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert h.reason(error) == "API_KEY_INVALID"
    assert await h.last_seq(nc) == mark


async def test_unknown_key_is_unauthenticated(api: pb_grpc.IngestionServiceStub) -> None:
    error = await h.failure(h.batch(api, "bk_0123456789ab_" + "s" * 43, [h.event()]))

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert h.reason(error) == "API_KEY_INVALID"


async def test_known_key_id_with_a_wrong_secret_is_unauthenticated(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    forged = f"bk_{h.key_id_of(write_key)}_{'s' * 43}"
    error = await h.failure(h.batch(api, forged, [h.event()]))

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "s" * 43 not in error.details()


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
async def test_authorization_bearer_header_is_accepted(
    scheme: str, api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    reply = await api.TrackBatch(
        pb.TrackBatchRequest(events=[h.event()]), metadata=[("authorization", f"{scheme} {write_key}")]
    )

    assert reply.result.accepted == 1


SLOW = ("--source", "slow", "--rate", "5", "--burst", "10")
# Refills one event per 100 s: once drained, it stays drained for the whole module.
STUCK = ("--source", "stuck", "--rate", "0.01", "--burst", "10")


@pytest.fixture(scope="module")
def keys(ingestion_env: dict[str, str]) -> dict[str, str]:
    """The module's keys, made at once."""
    names = ("exhausted", "retry", "over_burst", "drained", "to_revoke")
    specs = [SLOW, SLOW, SLOW, STUCK, ("--source", "to-revoke")]
    return dict(zip(names, h.create_keys(ingestion_env, *specs), strict=True))


@pytest.fixture(scope="module")
async def drained_key(api: pb_grpc.IngestionServiceStub, keys: dict[str, str]) -> str:
    """A key whose whole burst is spent."""
    assert (await h.batch(api, keys["drained"], h.page_views(10))).accepted == 10
    return keys["drained"]


def revoke(env: dict[str, str], key_id: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "bullseye_ingestion", "keys", "revoke", key_id]
    return subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def uncached_ingestion(ingestion_env: dict[str, str], stack_dir: Path) -> Iterator[ServiceProcess]:
    """A second ingestion process that looks every key up on every call."""
    env = {**ingestion_env, "INGESTION_KEY_CACHE_TTL": "0"}
    service = ServiceProcess("ingestion", "bullseye_ingestion", env, stack_dir / "logs-uncached-keys").start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
async def uncached_api(uncached_ingestion: ServiceProcess) -> AsyncIterator[pb_grpc.IngestionServiceStub]:
    async with channels.channel(uncached_ingestion.address, caller=None) as channel:
        yield h.stub(channel)


async def test_revoked_key_is_unauthenticated_on_its_next_call(
    uncached_api: pb_grpc.IngestionServiceStub, ingestion_env: dict[str, str], keys: dict[str, str]
) -> None:
    key = keys["to_revoke"]
    assert (await h.batch(uncached_api, key, [h.event()])).accepted == 1

    assert revoke(ingestion_env, h.key_id_of(key)).returncode == 0
    error = await h.failure(h.batch(uncached_api, key, [h.event()]))

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in error.details()
    assert h.reason(error) == "API_KEY_REVOKED"


# --- rate limits --------------------------------------------------------------------------


async def test_burst_passes_then_the_next_call_is_resource_exhausted_with_retry_info(
    api: pb_grpc.IngestionServiceStub, keys: dict[str, str], nc: NATS
) -> None:
    key = keys["exhausted"]
    assert (await h.batch(api, key, h.page_views(10))).accepted == 10
    mark = await h.last_seq(nc)
    error = await h.failure(h.batch(api, key, h.page_views(10)))

    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "5 events/s" in error.details()
    retry = h.detail(error, error_details_pb2.RetryInfo)
    assert retry.retry_delay.ToNanoseconds() > 0
    (quota,) = h.detail(error, error_details_pb2.QuotaFailure).violations
    assert quota.subject == f"api_key:{h.key_id_of(key)}"
    assert "burst 10" in quota.description
    assert await h.last_seq(nc) == mark


async def test_track_counts_against_the_same_rate_limit(api: pb_grpc.IngestionServiceStub, drained_key: str) -> None:
    error = await h.failure(h.track(api, drained_key, h.event()))

    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert h.detail(error, error_details_pb2.RetryInfo).retry_delay.ToNanoseconds() > 0


async def test_ingest_stream_counts_against_the_same_rate_limit(
    api: pb_grpc.IngestionServiceStub, drained_key: str
) -> None:
    call = api.Ingest(iter([pb.IngestRequest(batch_id="b1", events=[h.event()])]), metadata=h.auth(drained_key))
    error = await h.failure(h.drain(call))

    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_each_key_has_its_own_bucket(api: pb_grpc.IngestionServiceStub, drained_key: str, write_key: str) -> None:
    await h.failure(h.batch(api, drained_key, [h.event()]))

    assert (await h.batch(api, write_key, h.page_views(10))).accepted == 10


async def test_rate_limited_call_passes_after_waiting_the_retry_delay(
    api: pb_grpc.IngestionServiceStub, keys: dict[str, str]
) -> None:
    key = keys["retry"]
    await h.batch(api, key, h.page_views(10))
    error = await h.failure(h.batch(api, key, h.page_views(5)))
    delay = h.detail(error, error_details_pb2.RetryInfo).retry_delay

    await asyncio.sleep(delay.ToNanoseconds() / 1e9)

    assert (await h.batch(api, key, h.page_views(5))).accepted == 5


async def test_request_larger_than_the_burst_is_refused_naming_the_burst(
    api: pb_grpc.IngestionServiceStub, keys: dict[str, str]
) -> None:
    key = keys["over_burst"]
    error = await h.failure(h.batch(api, key, h.page_views(11)))

    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "burst of 10" in error.details()
    assert h.detail(error, error_details_pb2.QuotaFailure).violations
    assert not h.details(error, error_details_pb2.RetryInfo), "waiting can never make it pass"
    assert (await h.batch(api, key, h.page_views(10))).accepted == 10, "it took no tokens"
