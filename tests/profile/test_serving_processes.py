"""PROFILE_SERVE_PROCESSES (bullseye_platform.serving): helpers share the gRPC port the first
process bound (port 0: the kernel's pick), the unit is reported ready once all serve, and it
lives and dies whole. Profile is the service under test because its helpers must also run a
worker of their own (the read cache's LISTEN)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye.profile.v1 import profile_pb2_grpc as pb_grpc
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.metrics import scrape
from nats.aio.client import Client as NATS

from tests import channels
from tests.profile.support import ProfileUnderTest, ago, order, profile_running

CONNECTIONS = 24  # dealt by the kernel between 2 processes: all on one has odds of 2 in 2**24


@pytest.fixture
async def two(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> AsyncIterator[ProfileUnderTest]:
    async with profile_running(
        nc, nats_server, postgres, stack_dir, PROFILE_SERVE_PROCESSES="2", PROFILE_METRICS_PORT="0"
    ) as started:
        yield started


def processes(profile: ProfileUnderTest) -> tuple[psutil.Process, list[psutil.Process]]:
    assert profile.service.proc is not None
    first = psutil.Process(profile.service.proc.pid)
    return first, first.children()


def sockets(process: psutil.Process, port: int, status: str) -> int:
    return sum(1 for c in process.net_connections("tcp") if c.laddr.port == port and c.status == status)


async def test_the_unit_is_ready_when_every_process_serves_and_reports_each_metrics_port(
    two: ProfileUnderTest,
) -> None:
    first, helpers = processes(two)
    assert two.service.reported is not None
    members, metrics = [first, *helpers], two.service.reported.metrics_ports

    assert all(sockets(member, two.service.port, psutil.CONN_LISTEN) for member in members)
    assert len(metrics) == 2
    for member, port in zip(members, metrics, strict=True):
        assert sockets(member, port, psutil.CONN_LISTEN), f"metrics port {port} is not process {member.pid}'s"
        assert "python_gc_objects_collected_total" in await asyncio.to_thread(
            scrape, f"http://127.0.0.1:{port}/metrics"
        )


async def test_a_helper_serves_the_same_port_and_stops_with_the_first(two: ProfileUnderTest) -> None:
    await two.feed.events("s-1", order(ago(1), 10.0))
    await two.caught_up()
    first, helpers = processes(two)
    assert len(helpers) == 1
    port = two.service.port

    opened = [channels.channel(two.service.address, own_connection=True) for _ in range(CONNECTIONS)]
    try:
        request = pb.GetProfileRequest(person_id="s-1")
        replies = await asyncio.gather(*(pb_grpc.ProfileServiceStub(c).GetProfile(request) for c in opened))
        assert all(r.profile.value.orders == 1 for r in replies)
        assert sockets(first, port, psutil.CONN_ESTABLISHED) + sockets(helpers[0], port, psutil.CONN_ESTABLISHED) == (
            CONNECTIONS
        )
        assert sockets(helpers[0], port, psutil.CONN_ESTABLISHED) > 0
    finally:
        await asyncio.gather(*(c.close() for c in opened))

    assert await asyncio.to_thread(two.service.stop) == 0
    assert not helpers[0].is_running() or helpers[0].status() == psutil.STATUS_ZOMBIE


async def test_a_helper_that_dies_stops_the_whole_unit(two: ProfileUnderTest) -> None:
    first, helpers = processes(two)
    helpers[0].kill()

    assert await asyncio.to_thread(first.wait, 30) != 0
