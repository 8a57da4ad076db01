"""GetProfile's read cache in a real profile process: kept until PostgreSQL says otherwise.

To see whether a read came from the process or from PostgreSQL, a test rewrites a stored
base behind the process's back (no notification): the process answers with what it kept
until a change is notified, a reset TRUNCATEs, or its LISTEN connection is lost.
"""

from __future__ import annotations

from bullseye.profile.v1 import profile_pb2 as pb

from tests.platform.waiting import wait_until
from tests.profile.support import ProfileUnderTest, ago, order

CHANNEL = "bullseye_profile_bases:"


async def cached_then_rewritten(profile: ProfileUnderTest, person_id: str) -> None:
    """Fold (which stores the base, and keeps it), then rewrite it in PostgreSQL without a notification."""
    await profile.feed.events(person_id, order(ago(2), 10.0))
    await profile.caught_up()
    assert (await profile.get(person_id)).traits.city == ""
    rewritten = pb.Profile(person_id=person_id, traits=pb.Traits(city="rewritten"))
    rewritten.behaviour.first_seen.FromDatetime(ago(2))
    rewritten.behaviour.last_seen.FromDatetime(ago(2))
    await profile.pool.execute(
        "UPDATE profile_snapshots SET base = $2 WHERE person_id = $1", person_id, rewritten.SerializeToString()
    )
    assert (await profile.get(person_id)).traits.city == ""  # still the one kept: not read again


async def reads_the_rewrite(profile: ProfileUnderTest, person_id: str) -> None:
    async def rewritten() -> bool:
        return (await profile.get(person_id)).traits.city == "rewritten"

    await wait_until(rewritten)


async def test_a_notified_change_makes_the_process_read_again(profile: ProfileUnderTest) -> None:
    await cached_then_rewritten(profile, "c-notified")
    await cached_then_rewritten(profile, "c-bystander")

    await profile.pool.execute("SELECT pg_notify($1 || current_schema(), $2)", CHANNEL, '["c-notified"]')

    await reads_the_rewrite(profile, "c-notified")
    assert (await profile.get("c-bystander")).traits.city == ""  # not named: still kept


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
