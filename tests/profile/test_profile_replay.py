"""A rebuild's replay: segment memberships are not refreshed batch by batch while RESOLVED is
replayed; one sweep at the end reconciles them, so every fact is still announced exactly once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bullseye.profile.v1 import segments_pb2 as sg
from bullseye_devtools.stack import NatsServer, PostgresServer
from nats.aio.client import Client as NATS

from tests.platform.waiting import wait_until
from tests.profile.support import REPLAYING, ago, rebuild, start_profile, stop_profile, view
from tests.profile.test_segment_membership import create, facts, ready, relaunch, settled, story
from tests.profile.test_segment_rules import event_count

SEGMENT = "replay-viewers"


async def test_a_rebuild_announces_nothing_twice_and_its_final_sweep_admits_what_arrived_meanwhile(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> None:
    profile = await start_profile(nc, nats_server, postgres, stack_dir / "logs" / "replay")
    await create(profile, SEGMENT, event_count("page_viewed", sg.OPERATOR_GE, 1))
    await ready(profile, SEGMENT)
    for person in ("ann", "bob"):
        await profile.feed.events(person, view(ago(1)), view(ago(2)))
    await settled(profile)
    assert sorted(story(await facts(nc, profile, SEGMENT))) == [("ann", True, 1), ("bob", True, 1)]

    await asyncio.to_thread(profile.service.stop)
    await profile.feed.events("cid", view(ago(1)))  # written while no profile runs: replayed, never refreshed
    await rebuild(dict(profile.service.env))
    assert await profile.pool.fetchval(REPLAYING) == 1
    profile = await relaunch(profile, stack_dir / "logs" / "replayed")
    try:
        await profile.caught_up()

        async def replay_over() -> bool:
            return not await profile.pool.fetchval(
                "SELECT count(*) FROM projection_replays WHERE projection = 'profile'"
            )

        async def cid_admitted() -> bool:
            return ("cid", True, 1) in story(await facts(nc, profile, SEGMENT))

        await wait_until(replay_over)
        await wait_until(cid_admitted)
        await settled(profile)
        assert sorted(story(await facts(nc, profile, SEGMENT))) == [
            ("ann", True, 1),
            ("bob", True, 1),
            ("cid", True, 1),
        ]
        request = sg.IsMemberRequest(segment_id=SEGMENT, person_id="cid")
        assert (await profile.api.IsMember(request)).member
    finally:
        await stop_profile(profile)
