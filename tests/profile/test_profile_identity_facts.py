"""Merges and splits from identity: folded without double counting, separated exactly."""

from __future__ import annotations

import grpc
from bullseye.profile.v1 import profile_pb2 as pb

from tests.ingestion.helpers import failure
from tests.profile.support import ProfileUnderTest, ago, order, view


async def test_a_merge_folds_counts_windows_and_value_into_the_survivor_once(profile: ProfileUnderTest) -> None:
    await profile.feed.events("m-survivor", view(ago(0.9)), view(ago(40)), order(ago(20), 10.0))
    await profile.feed.events("m-merged", view(ago(0.5)), view(ago(100)), order(ago(3), 5.0))
    await profile.feed.merged("m-survivor", "m-merged")
    await profile.feed.merged("m-survivor", "m-merged")  # the same fact again (a redelivered copy)
    await profile.caught_up()

    survivor = await profile.get("m-survivor")

    b, v = survivor.behaviour, survivor.value
    assert (b.counts_1d.page_viewed, b.counts_90d.page_viewed, b.counts_lifetime.page_viewed) == (2, 3, 4)
    assert (v.orders, v.revenue, v.revenue_90d) == (2, 15.0, 15.0)
    assert b.first_seen.ToDatetime(tzinfo=ago(0).tzinfo) == ago(100)
    assert b.last_seen.ToDatetime(tzinfo=ago(0).tzinfo) == ago(0.5)
    assert list(survivor.merged_person_ids) == ["m-merged"]


async def test_records_naming_a_merged_person_later_land_on_the_survivor(profile: ProfileUnderTest) -> None:
    await profile.feed.events("m2-survivor", view(ago(2)))
    await profile.feed.events("m2-merged", view(ago(2)))
    await profile.feed.merged("m2-survivor", "m2-merged")
    await profile.feed.events("m2-merged", view(ago(1)))  # still named after the merged person
    await profile.caught_up()

    by_merged_id = await profile.get("m2-merged")  # a merged id answers with its survivor

    assert by_merged_id.person_id == "m2-survivor"
    assert by_merged_id.behaviour.counts_lifetime.page_viewed == 3


async def test_a_chain_of_merges_ends_on_the_last_survivor(profile: ProfileUnderTest) -> None:
    for person in ("c-a", "c-b", "c-c"):
        await profile.feed.events(person, view(ago(1)))
    await profile.feed.merged("c-b", "c-a")
    await profile.feed.merged("c-c", "c-b")
    await profile.feed.events("c-a", view(ago(0.5)))
    await profile.caught_up()

    reply = await profile.api.BatchGetProfiles(pb.BatchGetProfilesRequest(person_ids=["c-a", "c-b", "c-c"]))

    assert {p.person_id for p in reply.profiles} == {"c-c"}
    assert reply.profiles[0].behaviour.counts_lifetime.page_viewed == 4
    assert sorted(reply.profiles[0].merged_person_ids) == ["c-a", "c-b"]


async def test_a_split_moves_exactly_the_listed_events_to_the_new_person(profile: ProfileUnderTest) -> None:
    kept, moved_view, moved_order = view(ago(1)), view(ago(2)), order(ago(3), 42.0)
    await profile.feed.events("s-person", kept, moved_view, moved_order)
    await profile.feed.split("s-person", "s-new", [moved_view.event_id, moved_order.event_id])
    await profile.feed.split("s-person", "s-new", [moved_view.event_id, moved_order.event_id])  # again: no effect
    await profile.feed.events("s-new", view(ago(0.5)))
    await profile.caught_up()

    old, new = await profile.get("s-person"), await profile.get("s-new")

    assert (old.behaviour.counts_lifetime.total, old.value.orders) == (1, 0)
    assert (new.behaviour.counts_lifetime.page_viewed, new.value.orders, new.value.revenue) == (2, 1, 42.0)


async def test_a_person_merged_away_has_no_profile_of_its_own_in_a_batch(profile: ProfileUnderTest) -> None:
    await profile.feed.events("g-survivor", view(ago(1)))
    await profile.feed.events("g-merged", view(ago(1)))
    await profile.feed.merged("g-survivor", "g-merged")
    await profile.caught_up()

    error = await failure(profile.api.GetProfile(pb.GetProfileRequest(person_id="g-never-existed")))
    reply = await profile.api.BatchGetProfiles(pb.BatchGetProfilesRequest(person_ids=["g-merged"]))

    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert [p.person_id for p in reply.profiles] == ["g-survivor"]
