"""Training -> registry -> serving, through the real train command and the admin RPCs.

One recommendation unit for the module, serving from two processes
(RECOMMENDATION_SERVE_PROCESSES=2: every serving process must swap), on the shop of
shop.py. Versions are trained once by the real `train` command (registered, not
published); each test publishes what it needs and checks what every process then serves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.metrics import by_label, scrape
from bullseye_devtools.stack.services import ServiceProcess
from nats.aio.client import Client as NATS

from tests import channels
from tests.platform.waiting import wait_until
from tests.recommendation import shop, support


@dataclass
class Registered:
    running: support.RecommendationUnderTest
    blend: str  # two versions of the served family, trained on the same data
    blend_again: str
    ease: str  # an order-blind family: worse on shoppers who walk in order (the gate's case)
    unpublished: pb.RecommendResponse  # what Recommend answered before anything was published


@pytest.fixture(scope="module")
async def registered(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> AsyncIterator[Registered]:
    running = await support.start_recommendation(
        nc, nats_server, postgres, stack_dir / "registry", RECOMMENDATION_SERVE_PROCESSES="2"
    )
    try:
        await shop.open_shop(running)
        unpublished = await running.recommend(shop.shopper(1), k=5)
        trainer = ("bullseye_recommendation.train", "--projection")  # the console script's way in
        first, second, ease = await asyncio.gather(
            running.train(), running.train(), running.train("--family", "ease", program=trainer)
        )
        yield Registered(running, first["version"], second["version"], ease["version"], unpublished)
    finally:
        await support.stop_recommendation(running)


async def publish(running: support.RecommendationUnderTest, version: str, *, force: bool = True) -> pb.ModelVersion:
    reply = await running.api.PublishModel(pb.PublishModelRequest(version=version, force=force, reason="test"))
    return reply.model


def served_versions(running: support.RecommendationUnderTest) -> list[str]:
    """The version each serving process reports serving (recommendation_model_info)."""
    assert running.service.reported is not None
    found = []
    for port in running.service.reported.metrics_ports:
        info = by_label(scrape(f"http://127.0.0.1:{port}/metrics"), "recommendation_model_info", "version")
        found.append(next((version for version, value in info.items() if value == 1), ""))
    return found


async def every_process_serves(running: support.RecommendationUnderTest, version: str) -> None:
    async def all_swapped() -> bool:
        return await asyncio.to_thread(served_versions, running) == [version, version]

    await wait_until(all_swapped, within=60, every=0.1)


async def test_before_any_publication_recommend_serves_popular_items(registered: Registered) -> None:
    response = registered.unpublished

    assert response.items and response.model_version == ""
    assert {i.reason for i in response.items} == {pb.REASON_POPULAR}


async def test_the_trainer_registers_versions_with_metrics_checksum_and_data_window(registered: Registered) -> None:
    models = {m.version: m for m in (await registered.running.api.ListModels(pb.ListModelsRequest())).models}

    blend = models[registered.blend]
    assert {registered.blend, registered.blend_again, registered.ease} <= set(models)
    assert blend.family == "blend" and blend.items == 60 and len(blend.checksum) == 64
    assert 0.5 < blend.metrics["hr_at_10"] <= 1 and blend.metrics["ndcg_at_10"] > 0
    assert blend.data_from.ToDatetime() == support.START.replace(tzinfo=None)
    assert models[registered.ease].metrics["ndcg_at_10"] < blend.metrics["ndcg_at_10"] - 0.02


async def test_a_published_model_is_served_by_every_process(registered: Registered) -> None:
    running = registered.running

    model = await publish(running, registered.blend)

    assert model.current and model.version == registered.blend
    await every_process_serves(running, registered.blend)
    await running.serving(registered.blend)


async def test_a_hot_swap_under_load_fails_no_call(registered: Registered) -> None:
    running = registered.running
    await publish(running, registered.blend)
    await every_process_serves(running, registered.blend)
    seen: list[list[str]] = [[] for _ in range(6)]
    failures: list[str] = []
    done = asyncio.Event()

    async def load(worker: int) -> None:
        async with channels.channel(running.service.address, own_connection=True) as channel:  # spread over processes
            api = support.pb_grpc.RecommendationServiceStub(channel)
            while not done.is_set():
                try:
                    reply = await api.Recommend(pb.RecommendRequest(person_id=shop.shopper(worker), k=10))
                    seen[worker].append(reply.model_version)
                except grpc.aio.AioRpcError as error:
                    failures.append(error.code().name)

    workers = [asyncio.create_task(load(n)) for n in range(6)]
    await wait_until(lambda: _all_answered(seen), within=30)
    await publish(running, registered.blend_again)
    await wait_until(lambda: _all_moved_to(seen, registered.blend_again), within=60)
    done.set()
    await asyncio.gather(*workers)

    assert failures == []
    for versions in seen:  # each caller saw the old model, then the new one, never back
        switch = versions.index(registered.blend_again)
        assert set(versions[:switch]) == {registered.blend} and set(versions[switch:]) == {registered.blend_again}


async def _all_answered(seen: list[list[str]]) -> bool:
    return all(seen)


async def _all_moved_to(seen: list[list[str]], version: str) -> bool:
    return all(versions and versions[-1] == version for versions in seen)


async def test_the_gate_refuses_a_model_worse_than_the_served_one(registered: Registered) -> None:
    running = registered.running
    await publish(running, registered.blend)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await publish(running, registered.ease, force=False)
    by_trainer = await running.train("--family", "ease", "--publish")

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "ndcg_at_10" in (caught.value.details() or "") and "force" in (caught.value.details() or "")
    assert by_trainer["published"] is False and "gate" in by_trainer["refused"]
    current = [m for m in (await running.api.ListModels(pb.ListModelsRequest())).models if m.current]
    assert [m.version for m in current] == [registered.blend]
    assert (await publish(running, registered.ease, force=True)).current  # force skips the gate


async def test_rollback_serves_the_version_before_in_one_call(registered: Registered) -> None:
    running = registered.running
    await publish(running, registered.blend)
    await publish(running, registered.ease)
    await every_process_serves(running, registered.ease)

    back = await running.api.RollbackModel(pb.RollbackModelRequest(reason="worse in production"))

    assert back.model.version == registered.blend and back.model.current
    await every_process_serves(running, registered.blend)


async def test_rolling_back_past_the_first_publication_is_refused(registered: Registered) -> None:
    running = registered.running
    with contextlib.suppress(grpc.aio.AioRpcError):
        while True:  # back to the module's first publication
            await running.api.RollbackModel(pb.RollbackModelRequest())

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await running.api.RollbackModel(pb.RollbackModelRequest())

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "nothing to roll back to" in (caught.value.details() or "")


async def test_publishing_the_served_version_again_changes_nothing(registered: Registered) -> None:
    running = registered.running
    await publish(running, registered.blend)
    before = await running.pool.fetchval("SELECT count(*) FROM publications")

    again = await publish(running, registered.blend)

    assert again.current and await running.pool.fetchval("SELECT count(*) FROM publications") == before


async def test_an_unknown_version_is_not_found(registered: Registered) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await publish(registered.running, "no-such-version")

    assert caught.value.code() == grpc.StatusCode.NOT_FOUND and "ListModels" in (caught.value.details() or "")


async def test_a_model_file_that_fails_its_checksum_is_neither_published_nor_served(
    registered: Registered, stack_dir: Path
) -> None:
    running = registered.running
    await publish(running, registered.blend)
    await every_process_serves(running, registered.blend)
    damaged = running.model_dir / registered.blend_again / "model.onnx"
    original = damaged.read_bytes()
    served = running.model_dir / registered.blend / "model.onnx"
    kept = served.read_bytes()
    try:
        damaged.write_bytes(original[:-10] + b"0123456789")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await publish(running, registered.blend_again)
        served.write_bytes(kept[:-10] + b"0123456789")  # the served file damaged under a running deployment
        late = ServiceProcess("recommendation", "bullseye_recommendation",
                              {**running.env, "RECOMMENDATION_PROJECTION": "false"}, stack_dir / "late")  # fmt: skip
        await asyncio.to_thread(late.start)
        try:
            async with channels.channel(late.address) as channel:
                reply = await support.pb_grpc.RecommendationServiceStub(channel).Recommend(
                    pb.RecommendRequest(person_id=shop.shopper(2), k=5)
                )
        finally:
            await asyncio.to_thread(late.stop)
    finally:
        damaged.write_bytes(original)
        served.write_bytes(kept)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "sha256" in (caught.value.details() or "")
    assert reply.model_version == "" and reply.items  # the new process refused the file: popular items
    assert served_versions(running) == [registered.blend, registered.blend]  # the running ones keep theirs
