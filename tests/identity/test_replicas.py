"""Replicas: exactly one process resolves (IDENTITY_RESOLVER); the others answer RPCs from the
same graph."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_platform.eventlog import StreamSpec
from nats.aio.client import Client as NATS

from tests import channels
from tests.identity.graph_support import ANON, ref
from tests.identity.resolver_support import publish, resolver, workload
from tests.platform.waiting import wait_until


async def test_a_replica_without_the_resolver_answers_from_the_resolvers_graph(
    nc: NATS, pg: asyncpg.Connection, nats_server: NatsServer, postgres: PostgresServer,
    events_stream: StreamSpec, tmp_path: Path,
) -> None:  # fmt: skip
    tag = uuid.uuid4().hex[:6]
    events = workload(tag)[:30]
    last = await publish(nc, events_stream, events)
    main = resolver(nats_server, postgres, events_stream, f"main{tag}", tmp_path, batch=256)
    replica = resolver(nats_server, postgres, events_stream, f"main{tag}", tmp_path / "replica", batch=256)
    replica.env |= {"IDENTITY_RESOLVER": "false", "IDENTITY_CONSUMER": f"replica-{tag}"}
    replica.start()
    main.start()
    try:
        await wait_until(lambda: main.done(pg, last), within=60)
        consumers = {c.name for c in await nc.jetstream().consumers_info(events_stream.name)}
        assert consumers == {f"identity-main{tag}-all"}, "only the resolver reads EVENTS"
        assert replica.proc is not None
        async with channels.channel(replica.proc.address) as channel:
            anon = events[0].identifiers.anonymous_id
            reply = await pb_grpc.IdentityServiceStub(channel).Resolve(pb.ResolveRequest(identifiers=[ref(ANON, anon)]))
        assert reply.person_id
    finally:
        for process in (main, replica):
            if process.proc is not None:
                process.proc.stop()
