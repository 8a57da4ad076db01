"""Identity's resolver has a standby: candidates share one schema, consumer and RESOLVED stream;
the one holding the resolver's lock resolves, and when it is killed with SIGKILL mid-run the
other takes over and finishes, with the same graph and the same RESOLVED stream as one
undisturbed process: nothing lost, nothing applied twice."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_platform.eventlog import StreamSpec
from nats.aio.client import Client as NATS

from tests.identity.resolver_support import Resolver, graph_of, publish, resolved_by_one, resolver, stream_of, workload
from tests.platform.waiting import wait_until


def leads(process: Resolver) -> bool:
    """The process has logged that it took the resolver's lock (its log outlives a kill)."""
    line = f"leadership {process.schema}:{process.env['IDENTITY_CONSUMER']}: leading"
    log = process.log_dir / "identity.log"
    return log.exists() and line in log.read_text()


def leading(process: Resolver) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return leads(process)

    return check


def past(process: Resolver, pg: asyncpg.Connection, seq: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await process.position(pg) >= seq

    return check


async def test_a_standby_takes_over_from_a_killed_leader_and_nothing_is_applied_twice(
    nc: NATS, pg: asyncpg.Connection, nats_server: NatsServer, postgres: PostgresServer,
    events_stream: StreamSpec, tmp_path: Path,
) -> None:  # fmt: skip
    tag = uuid.uuid4().hex[:6]
    events = workload(tag)
    last = await publish(nc, events_stream, events)
    calm = await resolved_by_one(nats_server, postgres, events_stream, f"calm{tag}", tmp_path, pg, last)
    assert calm.proc is not None
    calm.proc.stop()

    # Two candidates of one deployment: same schema, consumer and stream, logs apart.
    first = resolver(nats_server, postgres, events_stream, f"lead{tag}", tmp_path / "first", batch=5)
    second = resolver(nats_server, postgres, events_stream, f"lead{tag}", tmp_path / "second", batch=5)
    first.start()
    await wait_until(leading(first), within=60)
    second.start()
    await wait_until(past(first, pg, 1), within=60)
    assert not leads(second), "the lock is held: the second process stands by"
    assert first.proc is not None
    first.proc.kill()
    killed_at = await first.position(pg)

    await wait_until(leading(second), within=60)
    await wait_until(lambda: second.done(pg, last), within=120)
    assert second.proc is not None
    second.proc.stop()

    assert killed_at < last, f"killed at {killed_at} of {last}: not mid-run"
    assert await graph_of(pg, second.schema) == await graph_of(pg, calm.schema)
    assert await stream_of(nc, second) == await stream_of(nc, calm)
