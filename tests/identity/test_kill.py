"""kill -9 mid-batch: an identity process killed repeatedly while it resolves a few thousand
events ends with the same graph and the same RESOLVED stream as an undisturbed one.

Both processes read one EVENTS stream of this test (with merges, refused links, values found
shared, the healing splits they cause, and re-stored event ids in it); each has its own
schema, consumer and RESOLVED stream, and they use different batch sizes, so equal results
also show that batching does not change resolution. Healing splits run throughout the
workload, so the killed process replays some of them after each kill: they heal alike.
"""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_platform.eventlog import StreamSpec
from nats.aio.client import Client as NATS

from tests.identity.resolver_support import Resolver, graph_of, publish, resolved_by_one, resolver, stream_of, workload
from tests.platform.waiting import wait_until


async def test_kill_9_mid_batch_gives_the_same_graph_and_stream_as_an_undisturbed_run(
    nc: NATS, pg: asyncpg.Connection, nats_server: NatsServer, postgres: PostgresServer,
    events_stream: StreamSpec, tmp_path: Path,
) -> None:  # fmt: skip
    tag = uuid.uuid4().hex[:6]
    events = workload(tag)
    last = await publish(nc, events_stream, events)
    # Its metrics port: any free one, reported when ready.
    calm = await resolved_by_one(
        nats_server, postgres, events_stream, f"calm{tag}", tmp_path, pg, last, IDENTITY_METRICS_PORT="0"
    )
    killed = resolver(nats_server, postgres, events_stream, f"kill{tag}", tmp_path, batch=5)
    assert calm.proc is not None
    metrics = await scrape(calm.proc.metrics_port)
    calm.proc.stop()

    killed.start()
    kills = [0]
    while len(kills) <= 3 and kills[-1] < last:  # each time it has committed since its (re)start
        await wait_until(lambda: _past(killed, pg, kills[-1] + 1), within=120)
        assert killed.proc is not None
        killed.proc.kill()
        kills.append(await killed.position(pg))
        killed.start()
    await wait_until(lambda: killed.done(pg, last), within=120)
    assert killed.proc is not None
    killed.proc.stop()

    assert len([k for k in kills[1:] if k < last]) >= 2, f"killed at {kills[1:]} of {last}: not mid-run twice"
    calm_graph, killed_graph = await graph_of(pg, calm.schema), await graph_of(pg, killed.schema)
    assert len(calm_graph["resolutions"]) == len(events)
    kinds = Counter(row[1] for row in calm_graph["history"])
    assert kinds["merged"] and kinds["shared"], "the workload has merges and values found shared"
    healed = [row for row in calm_graph["history"] if row[1] == "split" and row[2] and row[3]]
    assert len(healed) > 20, "and healing splits (counted on the person that kept the rest)"
    assert killed_graph == calm_graph
    calm_stream, killed_stream = await stream_of(nc, calm), await stream_of(nc, killed)
    assert len([m for m in calm_stream if m[1].startswith("resolved:")]) == len(events)
    assert killed_stream == calm_stream

    # What SREs see of the undisturbed run (counters of a killed process restart from zero).
    merged = await pg.fetchval(f'SELECT count(*) FROM "{calm.schema}".persons WHERE merged_into IS NOT NULL')
    assert sample(metrics, "identity_merges_total", reason="identifier-shared") == merged
    assert sample(metrics, "identity_conflicts_total", rule="limit:user_id=1") > 0
    shared = Counter((row[4], row[0]) for row in calm_graph["shared_values"])
    for (reason, id_type), count in shared.items():
        assert sample(metrics, "identity_shared_values_total", reason=reason, type=id_type) == count
    assert sample(metrics, "identity_automatic_splits_total") == len(healed)


async def scrape(port: int) -> str:
    url = f"http://127.0.0.1:{port}/metrics"
    return await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the series `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def _past(process: Resolver, pg: asyncpg.Connection, seq: int) -> bool:
    return await process.position(pg) >= seq
