"""GetProfile's read cache in a real profile process: kept until PostgreSQL says otherwise.

To see whether a read came from the process or from PostgreSQL, a test rewrites a stored
base behind the process's back (no notification): the process answers with what it kept
until a change is notified, a reset TRUNCATEs, or its LISTEN connection is lost.
"""

from __future__ import annotations

import itertools

from bullseye.profile.v1 import profile_pb2 as pb

from tests.platform.waiting import wait_until
from tests.profile.support import ProfileUnderTest, ago, order

CHANNEL = "bullseye_profile_bases:"


async def rewrite(profile: ProfileUnderTest, person_id: str, city: str) -> None:
    """Replace the stored base in PostgreSQL behind the process's back (no notification)."""
    rewritten = pb.Profile(person_id=person_id, traits=pb.Traits(city=city))
    rewritten.behaviour.first_seen.FromDatetime(ago(2))
    rewritten.behaviour.last_seen.FromDatetime(ago(2))
    await profile.pool.execute(
        "UPDATE profile_snapshots SET base = $2 WHERE person_id = $1", person_id, rewritten.SerializeToString()
    )


async def kept_by_the_process(profile: ProfileUnderTest, person_id: str) -> None:
    """Until the process answers `person_id` from what it kept.

    The fold's own notification can reach the process after the stored position the test
    waits for; until it does, the person counts as changing and is read from PostgreSQL, not
    kept (reading/cache.py). So: read, rewrite behind its back with a value never used before,
    read again; an answer other than that value came from the process.
    """
    probes = itertools.count()

    async def kept() -> bool:
        await profile.get(person_id)
        probe = f"probe-{next(probes)}"
        await rewrite(profile, person_id, probe)
        return (await profile.get(person_id)).traits.city != probe

    await wait_until(kept)


async def cached_then_rewritten(profile: ProfileUnderTest, person_id: str) -> None:
    """Fold (which stores the base), wait until the process keeps it, then rewrite it in
    PostgreSQL without a notification."""
    await profile.feed.events(person_id, order(ago(2), 10.0))
    await profile.caught_up()
    await kept_by_the_process(profile, person_id)
    await rewrite(profile, person_id, "rewritten")
    assert (await profile.get(person_id)).traits.city != "rewritten"  # still the one kept: not read again


async def reads_the_rewrite(profile: ProfileUnderTest, person_id: str) -> None:
    async def rewritten() -> bool:
        return (await profile.get(person_id)).traits.city == "rewritten"

    await wait_until(rewritten)


async def test_a_notified_change_makes_the_process_read_again(profile: ProfileUnderTest) -> None:
    await cached_then_rewritten(profile, "c-notified")
    await cached_then_rewritten(profile, "c-bystander")

    await profile.pool.execute("SELECT pg_notify($1 || current_schema(), $2)", CHANNEL, '["c-notified"]')

    await reads_the_rewrite(profile, "c-notified")
    assert (await profile.get("c-bystander")).traits.city != "rewritten"  # not named: still kept


async def test_a_truncate_drops_everything_kept(profile: ProfileUnderTest) -> None:
    await cached_then_rewritten(profile, "c-truncated")

    await profile.pool.execute("TRUNCATE rfm_scores")  # what a rebuild's reset does to every owned table

    await reads_the_rewrite(profile, "c-truncated")


async def test_a_lost_listen_connection_drops_everything_kept(profile: ProfileUnderTest) -> None:
    await cached_then_rewritten(profile, "c-lost")

    listener = f"listen-{CHANNEL}{profile.schema}"
    ended = await profile.pool.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", listener
    )

    assert ended == 1
    await reads_the_rewrite(profile, "c-lost")

    async def listening_again() -> bool:
        query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'"
        return await profile.pool.fetchval(query, listener) == 1

    await wait_until(listening_again)
    await cached_then_rewritten(profile, "c-relistened")  # the cache works again on the new connection
