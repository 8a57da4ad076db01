"""kill -9 and SIGTERM of the ingestion process under load: every acknowledged event is in
the stream exactly once. Clients retry failed batches with the same event ids, as the
README tells them to."""

from __future__ import annotations

import asyncio
import collections
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from bullseye_devtools.stack.services import ServiceProcess
from nats.aio.client import Client as NATS

from tests import channels
from tests.conftest import create_key
from tests.ingestion.helpers import last_seq, stored_since

BATCH = 100
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED}


def batches(run: str, count: int) -> Iterator[list[ev.Event]]:
    now = datetime.now(UTC)
    for b in range(count):
        events = []
        for i in range(BATCH):
            event = ev.Event(event_id=f"{run}:{b}:{i}", identifiers=ev.Identifiers(anonymous_id=f"anon-{i % 37}"))
            event.occurred_at.FromDatetime(now)
            event.product_viewed.product_id = f"sku-{i}"
            events.append(event)
        yield events


class Load:
    """Concurrent senders; a batch counts as acknowledged only when TrackBatch returned OK."""

    def __init__(self, address: str, key: str, todo: list[list[ev.Event]]) -> None:
        self.address, self.key = address, key
        self.queue: collections.deque[list[ev.Event]] = collections.deque(todo)
        self.acked: set[str] = set()
        self.failures = 0

    async def _send(self, stub: pb_grpc.IngestionServiceStub, events: list[ev.Event]) -> None:
        while True:
            try:
                await stub.TrackBatch(
                    pb.TrackBatchRequest(events=events), metadata=[("x-api-key", self.key)], timeout=10
                )
            except grpc.aio.AioRpcError as exc:
                assert exc.code() in RETRYABLE, exc
                self.failures += 1
                await asyncio.sleep(0.2)  # the service is restarting: retry the same ids
                continue
            self.acked.update(e.event_id for e in events)
            return

    async def worker(self) -> None:
        async with channels.channel(self.address, caller=None) as channel:
            stub = pb_grpc.IngestionServiceStub(channel)
            while self.queue:
                await self._send(stub, self.queue.popleft())

    async def run(self, concurrency: int = 6) -> None:
        await asyncio.gather(*(self.worker() for _ in range(concurrency)))


async def stored_copies(nc: NATS, mark: int, run: str) -> collections.Counter[str]:
    """How many times each of this run's event ids was appended after `mark`."""
    return collections.Counter(
        s.event.event_id for s in await stored_since(nc, mark) if s.event.event_id.startswith(run)
    )


def classify(sent: set[str], acked: set[str], copies: collections.Counter[str]) -> dict[str, int]:
    """ok: acknowledged and stored once; lost: acknowledged, not stored; duplicated: stored twice+."""
    verdict = collections.Counter()
    for event_id in sent:
        n = copies.get(event_id, 0)
        if n > 1:
            verdict["duplicated"] += 1
        elif event_id in acked:
            verdict["ok" if n == 1 else "lost"] += 1
        else:
            verdict["unacknowledged"] += 1
    return dict(verdict)


@pytest.fixture
def own_ingestion(ingestion_env: dict[str, str], stack_dir: Path) -> Iterator[ServiceProcess]:
    logs = stack_dir / f"logs-{uuid.uuid4().hex[:6]}"
    service = ServiceProcess("ingestion", "bullseye_ingestion", ingestion_env, logs)
    yield service.start()
    service.stop()


@pytest.fixture(scope="module")
def unlimited_key(ingestion_env: dict[str, str]) -> str:
    return create_key(ingestion_env, "--source", "crash-test", "--rate", "1000000", "--burst", "1000000")


async def until_acked(load: Load, count: int, sending: asyncio.Task[None]) -> None:
    while len(load.acked) < count and not sending.done():  # noqa: ASYNC110 - polling a counter
        await asyncio.sleep(0.01)


@pytest.mark.slow
async def test_kill_9_under_load_loses_and_doubles_nothing_acknowledged(own_ingestion, unlimited_key, nc):
    run, mark = f"crash-{uuid.uuid4().hex[:8]}", await last_seq(nc)
    todo = list(batches(run, 60))
    load = Load(own_ingestion.address, unlimited_key, todo)
    sending = asyncio.create_task(load.run())
    for _ in range(3):
        await until_acked(load, len(load.acked) + 10 * BATCH, sending)
        own_ingestion.kill()
        await asyncio.sleep(0.3)
        await asyncio.to_thread(own_ingestion.start)
    await asyncio.wait_for(sending, timeout=120)

    sent = {e.event_id for batch in todo for e in batch}
    verdict = classify(sent, load.acked, await stored_copies(nc, mark, run))
    assert load.failures > 0, "the kills should have failed some calls in flight"
    assert verdict == {"ok": len(sent)}


@pytest.mark.slow
async def test_sigterm_drains_calls_in_flight_and_exits_cleanly(own_ingestion, unlimited_key, nc):
    run, mark = f"drain-{uuid.uuid4().hex[:8]}", await last_seq(nc)
    todo = list(batches(run, 30))
    load = Load(own_ingestion.address, unlimited_key, todo)
    sending = asyncio.create_task(load.run())
    await until_acked(load, 5 * BATCH, sending)
    exit_code = await asyncio.to_thread(own_ingestion.stop)
    await asyncio.to_thread(own_ingestion.start)
    await asyncio.wait_for(sending, timeout=120)

    assert exit_code == 0
    sent = {e.event_id for batch in todo for e in batch}
    assert classify(sent, load.acked, await stored_copies(nc, mark, run)) == {"ok": len(sent)}
