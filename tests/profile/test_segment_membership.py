"""Segments through the real profile process: definitions over gRPC, membership kept current
from the RESOLVED stream, and segment.entered / segment.exited facts on the PROFILE stream.

The process's clock is pinned (support.NOW); tests that need time to pass restart the
process on the same schema and stream with a later pinned time.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.profile.v1 import segments_pb2 as sg
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess
from bullseye_platform.eventlog import partition_of
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from nats.aio.client import Client as NATS

from tests import channels
from tests.platform.waiting import wait_until
from tests.profile.support import (
    NOW,
    PARTITIONS,
    ProfileUnderTest,
    ago,
    event,
    order,
    start_profile,
    stop_profile,
    view,
)
from tests.profile.test_segment_rules import all_of, compare, event_count, in_, not_followed_by

EQ, GE = sg.OPERATOR_EQ, sg.OPERATOR_GE


def cart(when: datetime) -> ev.Event:
    return event(when, cart_item_added=ev.CartItemAdded(cart_id="c", product_id="sku-1", quantity=1))


def identified(when: datetime, country: str, tag: str = "") -> ev.Event:
    traits = ev.Traits(country=country, custom={"tag": tag} if tag else {})
    return event(when, identified=ev.Identified(traits=traits))


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def create(profile: ProfileUnderTest, segment_id: str, rule: sg.Rule) -> sg.Segment:
    request = sg.CreateSegmentRequest(segment=sg.Segment(segment_id=segment_id, name=segment_id, rule=rule))
    return (await profile.api.CreateSegment(request)).segment


async def ready(profile: ProfileUnderTest, segment_id: str) -> sg.GetSegmentResponse:
    """The segment once the full recompute for its current version is done."""
    request = sg.GetSegmentRequest(segment_id=segment_id)

    async def computed() -> bool:
        got = await profile.api.GetSegment(request)
        return bool(got.segment.membership_state == sg.MEMBERSHIP_STATE_READY)

    await wait_until(computed)
    return await profile.api.GetSegment(request)


async def settled(profile: ProfileUnderTest) -> None:
    """Until the projection read everything fed and the outbox relay published every fact."""
    await profile.caught_up()

    async def relayed() -> bool:
        return not await profile.pool.fetchval("SELECT count(*) FROM outbox")

    await wait_until(relayed)


async def facts(nc: NATS, profile: ProfileUnderTest, segment_id: str) -> list[tuple[str, sg.SegmentMembershipChanged]]:
    """Every segment fact of `segment_id` on the process's PROFILE stream, in order, with its msg id."""
    return await facts_in(nc, profile.service.env["PROFILE_STREAM"], segment_id)


async def facts_in(nc: NATS, stream: str, segment_id: str) -> list[tuple[str, sg.SegmentMembershipChanged]]:
    js = nc.jetstream()
    last = (await js.stream_info(stream)).state.last_seq
    found = []
    for seq in range(1, last + 1):
        raw = await js.get_msg(stream, seq)
        if not (raw.subject or "").endswith(("entered", "exited")):
            continue  # a definition's fact (test_segment_facts.py)
        fact = sg.SegmentMembershipChanged.FromString(raw.data or b"")
        if fact.segment_id == segment_id:
            assert raw.subject is not None and raw.subject.endswith("entered" if fact.entered else "exited")
            found.append(((raw.headers or {}).get("Nats-Msg-Id", ""), fact))
    return found


def story(found: list[tuple[str, sg.SegmentMembershipChanged]]) -> list[tuple[str, bool, int]]:
    return [(f.person_id, f.entered, f.rule_version) for _, f in found]


async def members(profile: ProfileUnderTest, segment_id: str, page_size: int = 0) -> list[str]:
    request = sg.ListMembersRequest(segment_id=segment_id, page_size=page_size)
    return [m.person_id async for page in profile.api.ListMembers(request) for m in page.members]


async def relaunch(old: ProfileUnderTest, log_dir: Path, *, kill: bool = False, **env: str) -> ProfileUnderTest:
    """Stop (or kill -9) the process and start another on the same schema and streams."""
    await old.channel.close()
    await asyncio.to_thread(old.service.kill if kill else old.service.stop)
    service = ServiceProcess("profile", "bullseye_profile", {**old.service.env, **env}, log_dir)
    await asyncio.to_thread(service.start)
    return ProfileUnderTest(service, old.schema, old.feed, old.pool, channels.channel(service.address))


def bad_request(error: grpc.aio.AioRpcError) -> dict[str, str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            request = error_details_pb2.BadRequest()
            detail.Unpack(request)
            return {v.field: v.description for v in request.field_violations}
    raise AssertionError("no BadRequest detail")


# --- definitions and errors -------------------------------------------------------------


async def test_an_invalid_rule_is_refused_with_the_path_of_each_bad_field(profile: ProfileUnderTest) -> None:
    rule = all_of(compare("traits.country", EQ, "DE"), compare("traits.country'; DROP TABLE segments;--", EQ, "x"))
    request = sg.CreateSegmentRequest(segment=sg.Segment(segment_id="bad", name="", rule=rule))

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await profile.api.CreateSegment(request)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    problems = bad_request(caught.value)
    assert set(problems) == {"segment.name", "segment.rule.all_of.rules[1].compare.field"}
    assert "unknown field" in problems["segment.rule.all_of.rules[1].compare.field"]
    assert await profile.pool.fetchval("SELECT count(*) FROM segments WHERE segment_id = 'bad'") == 0


async def test_unknown_segments_taken_ids_and_stale_versions_have_precise_errors(profile: ProfileUnderTest) -> None:
    segment = await create(profile, new_id("errs"), compare("traits.country", EQ, "DE"))
    calls = {
        grpc.StatusCode.NOT_FOUND: profile.api.GetSegment(sg.GetSegmentRequest(segment_id="no-such-segment")),
        grpc.StatusCode.ALREADY_EXISTS: profile.api.CreateSegment(sg.CreateSegmentRequest(segment=segment)),
        grpc.StatusCode.FAILED_PRECONDITION: profile.api.DeleteSegment(
            sg.DeleteSegmentRequest(segment_id=segment.segment_id, expected_version=7)
        ),
    }
    for code, call in calls.items():
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == code, caught.value.details()

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await profile.api.ListSegments(sg.ListSegmentsRequest(page_token="not-a-token"))
    assert bad_request(caught.value).keys() == {"page_token"}


@pytest.mark.parametrize(
    ("call", "request_", "field"),
    [
        ("Estimate", sg.EstimateRequest(rule=compare("value.orderz", GE, 1)), "rule.compare.field"),
        ("Estimate", sg.EstimateRequest(), "rule"),
        ("IsMember", sg.IsMemberRequest(segment_id="s", person_id=""), "person_id"),
        ("IsMember", sg.IsMemberRequest(segment_id="Not Valid!", person_id="p"), "segment_id"),
        ("GetMembershipAt", sg.GetMembershipAtRequest(segment_id="s"), "at"),
        ("ListSegments", sg.ListSegmentsRequest(page_size=501), "page_size"),
        ("UpdateSegment", sg.UpdateSegmentRequest(segment=sg.Segment(name="n", rule=compare("traits.city", EQ, "x"))),
         "segment.segment_id"),
        ("CreateSegment", sg.CreateSegmentRequest(), "segment"),
    ],
)  # fmt: skip
async def test_requests_are_checked_field_by_field(
    profile: ProfileUnderTest, call: str, request_: object, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await getattr(profile.api, call)(request_)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert list(bad_request(caught.value)) == [field]


async def test_estimate_counts_matching_profiles_without_creating_anything(profile: ProfileUnderTest) -> None:
    country = f"X{uuid.uuid4().hex[:4]}"
    await profile.feed.events(new_id("p-est"), identified(ago(1), country))
    await profile.feed.events(new_id("p-est"), identified(ago(1), country))
    await profile.feed.events(new_id("p-est"), identified(ago(1), "ZZ"))
    await profile.caught_up()
    before = await profile.pool.fetchval("SELECT count(*) FROM segments")

    estimate = await profile.api.Estimate(sg.EstimateRequest(rule=compare("traits.country", EQ, country)))

    assert estimate.matching == 2
    assert estimate.population >= 3
    assert await profile.pool.fetchval("SELECT count(*) FROM segments") == before


# --- membership and facts ---------------------------------------------------------------


async def test_entry_and_exit_are_facts_exactly_once_each_in_order(profile: ProfileUnderTest, nc: NATS) -> None:
    segment = await create(profile, new_id("abandoned"),
                           not_followed_by("cart_item_added", "order_completed", timedelta(days=1)))  # fmt: skip
    await ready(profile, segment.segment_id)
    person = new_id("p-cart")

    partition = partition_of(person, PARTITIONS)
    await profile.feed.events(person, view(ago(0.5)))
    await profile.feed.events(person, cart(ago(0.4)))
    carted = profile.feed.ends[partition]
    await profile.feed.events(person, view(ago(0.3)))  # still in: no new fact
    viewed = profile.feed.ends[partition]
    await settled(profile)
    during = await profile.api.IsMember(sg.IsMemberRequest(segment_id=segment.segment_id, person_id=person))
    await profile.feed.events(person, order(ago(0.2), 20.0))
    ordered = profile.feed.ends[partition]
    await profile.feed.events(person, view(ago(0.1)))  # still out: no new fact
    await settled(profile)

    found = await facts(nc, profile, segment.segment_id)
    assert story(found) == [(person, True, 1), (person, False, 1)]
    # Each names the RESOLVED record it was folded through: its cause, or a record of its batch after it.
    (_, entry), (_, exit_) = found
    assert entry.resolved_partition == exit_.resolved_partition == partition
    assert carted <= entry.resolved_seq <= viewed and ordered <= exit_.resolved_seq <= profile.feed.ends[partition]
    assert len({msg_id for msg_id, _ in found}) == 2
    assert found[0][0].startswith(f"seg:{segment.segment_id}:{person}:1:entered:")
    assert during.member and during.membership.rule_version == 1
    assert not (await profile.api.IsMember(sg.IsMemberRequest(segment_id=segment.segment_id, person_id=person))).member


async def test_a_rule_change_recomputes_every_profile_under_the_new_version(
    profile: ProfileUnderTest, nc: NATS
) -> None:
    tag = uuid.uuid4().hex[:6]
    fr, de, both = f"p-fr-{tag}", f"p-de-{tag}", f"p-two-{tag}"
    await profile.feed.events(fr, identified(ago(3), "FR", tag), order(ago(2), 5.0))
    await profile.feed.events(de, identified(ago(3), "DE", tag), order(ago(2), 5.0))
    await profile.feed.events(both, identified(ago(3), "DE", tag))
    await profile.caught_up()
    folded = dict(profile.feed.ends)
    mine = compare("traits.custom.tag", EQ, tag)
    segment_id = f"buyers-{tag}"
    await create(profile, segment_id, all_of(mine, compare("traits.country", EQ, "FR")))
    await ready(profile, segment_id)
    assert await members(profile, segment_id) == [fr]

    rule = all_of(mine, in_("traits.country", "DE", "AT"), event_count("order_completed", GE, 1))
    request = sg.UpdateSegmentRequest(segment=sg.Segment(segment_id=segment_id, name="German buyers", rule=rule))
    request.expected_version = 1
    updated = await profile.api.UpdateSegment(request)
    got = await ready(profile, segment_id)
    await profile.feed.events(both, order(ago(1), 5.0))  # the live path, under the new version
    await settled(profile)

    assert updated.segment.version == 2
    assert await members(profile, segment_id, page_size=1) == sorted([de, both])
    assert got.member_count == 1
    recorded = await facts(nc, profile, segment_id)
    found = story(recorded)
    assert found[0] == (fr, True, 1)
    assert sorted(found[1:3]) == sorted([(fr, False, 2), (de, True, 2)])
    assert found[3:] == [(both, True, 2)]
    # A recompute's change names how far profile had folded the person's partition when it judged.
    for _, fact in recorded[:3]:
        partition = partition_of(fact.person_id, PARTITIONS)
        assert (fact.resolved_partition, fact.resolved_seq) == (partition, folded[partition])


async def test_a_merged_person_leaves_and_the_survivor_is_judged_on_the_folded_profile(
    profile: ProfileUnderTest, nc: NATS
) -> None:
    tag = uuid.uuid4().hex[:6]
    merged, survivor = f"p-m-{tag}", f"p-s-{tag}"
    await profile.feed.events(merged, identified(ago(3), "DE", tag), order(ago(2), 5.0))
    await profile.feed.events(survivor, view(ago(2)))
    await profile.caught_up()
    segment_id = f"merge-{tag}"
    await create(
        profile, segment_id, all_of(compare("traits.custom.tag", EQ, tag), event_count("order_completed", GE, 1))
    )
    await ready(profile, segment_id)
    assert await members(profile, segment_id) == [merged]

    await profile.feed.merged(survivor, merged)
    await settled(profile)

    assert await members(profile, segment_id) == [survivor]
    assert story(await facts(nc, profile, segment_id)) == [(merged, True, 1), (merged, False, 1), (survivor, True, 1)]


async def test_list_members_streams_pages_that_resume_from_their_token(profile: ProfileUnderTest) -> None:
    country = f"L{uuid.uuid4().hex[:4]}"
    persons = sorted(new_id("p-page") for _ in range(5))
    for person in persons:
        await profile.feed.events(person, identified(ago(1), country))
    segment = await create(profile, new_id("paged"), compare("traits.country", EQ, country))
    await profile.caught_up()
    await ready(profile, segment.segment_id)

    pages = [
        p async for p in profile.api.ListMembers(sg.ListMembersRequest(segment_id=segment.segment_id, page_size=2))
    ]
    resumed = profile.api.ListMembers(
        sg.ListMembersRequest(segment_id=segment.segment_id, page_size=2, page_token=pages[0].next_page_token, limit=2)
    )

    assert [[m.person_id for m in p.members] for p in pages] == [persons[:2], persons[2:4], persons[4:]]
    assert pages[-1].next_page_token == ""
    assert [m.person_id async for p in resumed for m in p.members] == persons[2:4]


async def test_deleting_a_segment_exits_every_member_and_keeps_its_history(profile: ProfileUnderTest, nc: NATS) -> None:
    country = f"D{uuid.uuid4().hex[:4]}"
    persons = sorted(new_id("p-del") for _ in range(3))
    for person in persons:
        await profile.feed.events(person, identified(ago(1), country))
    await profile.caught_up()
    segment = await create(profile, new_id("doomed"), compare("traits.country", EQ, country))
    await ready(profile, segment.segment_id)

    deleted = await profile.api.DeleteSegment(
        sg.DeleteSegmentRequest(segment_id=segment.segment_id, expected_version=1)
    )
    await settled(profile)

    assert deleted.exited == 3
    assert story(await facts(nc, profile, segment.segment_id)) == [
        *((p, True, 1) for p in persons),
        *((p, False, 1) for p in persons),
    ]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await profile.api.GetSegment(sg.GetSegmentRequest(segment_id=segment.segment_id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    before = NOW - timedelta(microseconds=1)
    at = sg.GetMembershipAtRequest(segment_id=segment.segment_id)
    at.at.FromDatetime(before)
    assert (await profile.api.GetMembershipAt(at)).members == []


# --- point in time ----------------------------------------------------------------------


async def test_time_alone_ends_a_membership_and_history_answers_who_was_in_at_any_time(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> None:
    first = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    later = first + timedelta(days=2)
    profile = await start_profile(nc, nats_server, postgres, stack_dir / "logs", fixed_now=first)
    person = new_id("p-pit")
    try:
        # Not a buyer: no RFM run re-evaluates this person, only the sweep can.
        rule = not_followed_by("cart_item_added", "order_completed", timedelta(days=1))
        segment = await create(profile, "abandoned-carts", rule)
        await ready(profile, segment.segment_id)
        await profile.feed.events(person, cart(first - timedelta(hours=1)))
        partition = partition_of(person, PARTITIONS)
        carted = profile.feed.ends[partition]
        await settled(profile)
        assert await members(profile, segment.segment_id) == [person]
        neighbours = (new_id("p-pit") for _ in range(10_000))
        neighbour = next(p for p in neighbours if partition_of(p, PARTITIONS) == partition)
        await profile.feed.events(neighbour, view(first - timedelta(minutes=30)))  # the partition moves on
        await settled(profile)
        # Two days on, with no new event: the sweep (due at start-up) finds the person has left.
        profile = await relaunch(profile, stack_dir / "logs" / "later", PROFILE_FIXED_NOW=later.isoformat())
        is_member = sg.IsMemberRequest(segment_id=segment.segment_id, person_id=person)

        async def left() -> bool:
            return not (await profile.api.IsMember(is_member)).member

        await wait_until(left)
        await settled(profile)

        async def at(moment: datetime) -> list[str]:
            request = sg.GetMembershipAtRequest(segment_id=segment.segment_id)
            request.at.FromDatetime(moment)
            return [m.person_id for m in (await profile.api.GetMembershipAt(request)).members]

        assert await at(first - timedelta(seconds=1)) == []
        assert await at(first) == [person]
        assert await at(later - timedelta(seconds=1)) == [person]
        assert await at(later) == []
        found = await facts(nc, profile, segment.segment_id)
        assert story(found) == [(person, True, 1), (person, False, 1)]
        (_, entry), (_, exit_) = found
        # Time made the exit: it names how far profile had folded the person's partition then.
        assert (exit_.resolved_partition, exit_.resolved_seq) == (partition, profile.feed.ends[partition])
        assert (entry.resolved_partition, entry.resolved_seq) == (partition, carted) and carted < exit_.resolved_seq
    finally:
        await stop_profile(profile)


async def test_a_kill_mid_batch_neither_loses_nor_repeats_a_fact(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> None:
    profile = await start_profile(nc, nats_server, postgres, stack_dir / "logs", PROFILE_BATCH_SIZE="8")
    persons = [f"p-kill-{i:03d}" for i in range(240)]
    try:
        segment = await create(profile, "germans", compare("traits.country", EQ, "DE"))
        await ready(profile, segment.segment_id)
        for person in persons:
            await profile.feed.events(person, identified(ago(1), "DE"))

        async def some_entered() -> bool:
            return bool(await profile.pool.fetchval("SELECT count(*) >= 40 FROM segment_memberships"))

        await wait_until(some_entered)
        profile = await relaunch(profile, stack_dir / "logs" / "after-kill", kill=True)
        await settled(profile)

        found = await facts(nc, profile, segment.segment_id)
        assert sorted(story(found)) == [(p, True, 1) for p in persons]
        assert len({msg_id for msg_id, _ in found}) == len(persons)
        assert await members(profile, segment.segment_id) == persons
    finally:
        await stop_profile(profile)
