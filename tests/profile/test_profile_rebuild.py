"""Rebuild and crash safety: replaying RESOLVED from zero gives the live tables, and a
profile process killed with SIGKILL mid-batch, again and again, still ends with them.

One workload (events of every kind, merges, splits, repeats) is written once; each phase
runs a profile process on a fresh schema over the same stream. Phases run one after the
other because they share the stream's durable consumer names.
"""

from __future__ import annotations

import asyncio
import functools
import random
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_platform.eventlog import StreamSpec
from nats.aio.client import Client as NATS

from tests.platform.projection_support import in_a_transaction
from tests.platform.waiting import wait_until
from tests.profile.support import (
    ProfileUnderTest,
    ResolvedFeed,
    ago,
    event,
    rebuild,
    resolved_stream,
    start_profile,
    stop_profile,
    usd,
)  # fmt: skip

PEOPLE, EVENTS, KILLS = 120, 2400, 3
ZONES = ["", "Europe/Paris", "Asia/Tokyo", "America/New_York"]


@dataclass
class Workload:
    stream: StreamSpec
    ends: dict[int, int]
    people: list[str]


def random_event(rng: random.Random, n: int) -> ev.Event:
    when = ago(rng.uniform(0, 200))
    zone = rng.choice(ZONES)
    kind = rng.randrange(6)
    if kind == 0:
        item = ev.LineItem(
            product_id="x",
            quantity=rng.randint(1, 3),
            unit_price=usd(rng.choice([5, 50, 700])),
            category=rng.choice(["books", "audio", "toys"]),
            brand=rng.choice(["A", "B"]),
        )
        made = event(when, order_completed=ev.OrderCompleted(order_id=f"o{n}", items=[item]), timezone=zone)
    elif kind == 1:
        made = event(when, order_refunded=ev.OrderRefunded(order_id="o", amount=usd(3)), timezone=zone)
    elif kind == 2:
        traits = ev.Traits(city=rng.choice(["Lyon", "Oslo"]), birth_year=rng.randint(1950, 2005))
        made = event(when, identified=ev.Identified(traits=traits), timezone=zone)
    elif kind == 3:
        change = ev.ConsentChanged(
            purpose=ev.CONSENT_PURPOSE_MARKETING, channel=rng.randint(0, 5), granted=rng.random() < 0.5, source="form"
        )
        made = event(when, consent_changed=change, timezone=zone)
    else:
        made = event(
            when,
            product_viewed=ev.ProductViewed(
                product_id="p", category=rng.choice(["books", "toys"]), price=usd(rng.choice([5, 50]))
            ),
            timezone=zone,
        )
    made.event_id = f"w-{n:05d}"
    made.context.session_id = f"s{rng.randrange(5)}"
    return made


async def write_workload(feed: ResolvedFeed, rng: random.Random) -> list[str]:
    people = [f"w{i}" for i in range(PEOPLE)]
    owned: dict[str, list[str]] = {p: [] for p in people}
    for n in range(EVENTS):
        person = rng.choice(people)
        made = random_event(rng, n)
        owned[person].append(made.event_id)
        await feed.events(person, made)
        if n % 400 == 399:  # a repeat of an earlier event (after the duplicate window): counted once
            await feed.events(person, random_event(random.Random(n), n - 7))
    for survivor, merged in zip(people[0:30:2], people[1:30:2], strict=True):
        await feed.merged(survivor, merged)
    await feed.events(people[1], event(ago(0.5), page_viewed=ev.PageViewed(name="late")))  # names a merged one
    for person in people[40:50]:
        await feed.split(person, f"{person}-split", owned[person][::2])
    return people + [f"{p}-split" for p in people[40:50]]


async def new_workload(nc: NATS, name: str, seed: int) -> Workload:
    """The workload written to a RESOLVED stream of its own (`name` plus a random suffix)."""
    stream = await resolved_stream(nc, name + str(random.randrange(10**6)))
    feed = ResolvedFeed(nc, stream)
    people = await write_workload(feed, random.Random(seed))
    return Workload(stream, feed.ends, people)


@pytest.fixture(scope="module")
async def workload(nc: NATS) -> Workload:
    return await new_workload(nc, "rebuild", 7)


@pytest.fixture(scope="module")
async def live(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, workload: Workload
) -> tuple[str, dict[str, bytes]]:
    """The live projection's table hash and every profile, from a process that ran once through
    (and is stopped: the next phase's process takes over the stream's durable consumers)."""
    started = await run_to_end(nc, nats_server, postgres, stack_dir, workload)
    try:
        return await snapshot(started, workload)
    finally:
        await stop_profile(started)


async def run_to_end(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, workload: Workload, **extra: str
) -> ProfileUnderTest:
    started = await start_profile(nc, nats_server, postgres, stack_dir / "logs", stream=workload.stream, **extra)
    started.feed.ends.update(workload.ends)
    await started.caught_up()
    return started


async def snapshot(profile: ProfileUnderTest, workload: Workload) -> tuple[str, dict[str, bytes]]:
    await profile.api.RecomputeRfm(pb.RecomputeRfmRequest())
    reply = await profile.api.BatchGetProfiles(pb.BatchGetProfilesRequest(person_ids=workload.people[:100]))
    more = await profile.api.BatchGetProfiles(pb.BatchGetProfilesRequest(person_ids=workload.people[100:]))
    profiles = {p.person_id: p.SerializeToString(deterministic=True) for p in [*reply.profiles, *more.profiles]}
    return await profile.table_hash(("journal", "person_aliases", "rfm_scores", "population_stats")), profiles


async def test_the_workload_folds_merges_and_splits(live: tuple[str, dict[str, bytes]], workload: Workload) -> None:
    _, profiles = live
    survivors = {pb.Profile.FromString(raw).person_id for raw in profiles.values()}
    assert "w1" not in survivors and "w0" in survivors  # merged away
    assert {f"{p}-split" for p in workload.people[40:50]} <= survivors
    total = sum(pb.Profile.FromString(raw).behaviour.counts_lifetime.total for raw in profiles.values())
    assert total == EVENTS + 1  # every event once (repeats dropped, the late one added)


async def test_replaying_from_zero_into_an_empty_schema_equals_the_live_projection(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, workload: Workload,
    live: tuple[str, dict[str, bytes]],
) -> None:  # fmt: skip
    rebuilt = await run_to_end(nc, nats_server, postgres, stack_dir, workload)
    try:
        assert await snapshot(rebuilt, workload) == live
    finally:
        await stop_profile(rebuilt)


async def test_a_reset_then_replay_in_place_equals_the_live_projection(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, workload: Workload,
    live: tuple[str, dict[str, bytes]],
) -> None:  # fmt: skip
    first = await run_to_end(nc, nats_server, postgres, stack_dir, workload)
    await stop_profile(first)
    await rebuild(dict(first.service.env))
    emptied = await asyncpg.connect(first.service.env["DATABASE_URL"], server_settings={"search_path": first.schema})
    try:
        assert await emptied.fetchval("SELECT count(*) FROM journal") == 0
        assert await emptied.fetchval("SELECT count(*) FROM projection_positions") == 0
    finally:
        await emptied.close()
    replayed = await run_to_end(nc, nats_server, postgres, stack_dir, workload, schema=first.schema)
    try:
        assert await snapshot(replayed, workload) == live
    finally:
        await stop_profile(replayed)


async def applied(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT coalesce(sum(stream_seq), 0) FROM projection_positions"))


async def progressed(pool: asyncpg.Pool, beyond: int) -> bool:
    return await applied(pool) > beyond


@pytest.mark.slow
async def test_a_profile_killed_mid_batch_again_and_again_ends_equal_to_the_live_projection(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, workload: Workload,
    live: tuple[str, dict[str, bytes]],
) -> None:  # fmt: skip
    rng = random.Random()
    schema, inside, end = f"profile_kill{rng.randrange(10**6)}", 0, sum(workload.ends.values())
    for _ in range(KILLS):
        # One record per transaction: the replay (an empty schema replays quietly) takes long
        # enough for kills to land in it.
        victim = await start_profile(
            nc, nats_server, postgres, stack_dir / "logs", stream=workload.stream, schema=schema,
            PROFILE_BATCH_SIZE="1", PROFILE_REPLAY_BATCH_SIZE="1",
        )  # fmt: skip
        before = await applied(victim.pool)
        await wait_until(functools.partial(progressed, victim.pool, before), within=60, every=0.01)
        await asyncio.sleep(rng.uniform(0.0, 0.2))  # a different point of the replay each time
        await wait_until(functools.partial(in_a_transaction, victim.pool, schema), within=60, every=0.005)
        inside += await in_a_transaction(victim.pool, schema)
        victim.service.kill()
        assert await applied(victim.pool) < end, "killed after the end: nothing was proved (raise EVENTS)"
        await victim.channel.close()
        await victim.pool.close()
    survivor = await run_to_end(nc, nats_server, postgres, stack_dir, workload, schema=schema)
    try:
        assert await snapshot(survivor, workload) == live
        assert inside >= 1, "no kill landed inside a transaction: nothing was proved"
    finally:
        await stop_profile(survivor)
