"""Segment definitions are facts on PROFILE, and a profile whose database is lost gets its
segments back from them: definitions, memberships and their history, with nothing announced
twice (docs/design.md D3)."""

from __future__ import annotations

from pathlib import Path

from bullseye.profile.v1 import segments_pb2 as sg
from bullseye_devtools.stack import NatsServer, PostgresServer
from nats.aio.client import Client as NATS

from tests.platform.waiting import wait_until
from tests.profile.support import ProfileUnderTest, ago, order, start_profile, stop_profile, view
from tests.profile.test_segment_membership import create, ready, relaunch, settled
from tests.profile.test_segment_rules import all_of, event_count

GE, EQ = sg.OPERATOR_GE, sg.OPERATOR_EQ
VIEWERS = event_count("page_viewed", GE, 1)
WINDOW_SHOPPERS = all_of(event_count("page_viewed", GE, 1), event_count("order_completed", EQ, 0))


async def stream_contents(nc: NATS, profile: ProfileUnderTest) -> list[tuple[str, str, bytes]]:
    """(subject, message id, payload) of every fact on the process's PROFILE stream, in order."""
    js, stream = nc.jetstream(), profile.service.env["PROFILE_STREAM"]
    last = (await js.stream_info(stream)).state.last_seq
    found = []
    for seq in range(1, last + 1):
        raw = await js.get_msg(stream, seq)
        found.append((raw.subject or "", (raw.headers or {}).get("Nats-Msg-Id", ""), raw.data or b""))
    return found


def definitions(contents: list[tuple[str, str, bytes]]) -> list[tuple[str, str, sg.SegmentDefinitionChanged]]:
    return [
        (subject.rsplit(".", 1)[-1], msg_id, sg.SegmentDefinitionChanged.FromString(data))
        for subject, msg_id, data in contents
        if subject.endswith(("defined", "updated", "deleted"))
    ]


async def tables(profile: ProfileUnderTest) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """The segment definitions and every membership interval (history included), comparable."""
    segments = await profile.pool.fetch(
        "SELECT segment_id, name, description, rule, version, created_at, updated_at, deleted_at FROM segments "
        "ORDER BY segment_id"
    )
    intervals = await profile.pool.fetch(
        "SELECT segment_id, person_id, rule_version, entered_at, exited_at, exit_version FROM segment_memberships "
        "ORDER BY segment_id, person_id, entered_at"
    )
    return [tuple(r) for r in segments], [tuple(r) for r in intervals]


async def test_creating_updating_and_deleting_a_segment_are_facts_with_the_whole_rule_and_version(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> None:
    profile = await start_profile(nc, nats_server, postgres, stack_dir / "logs" / "definitions")
    try:
        created = await create(profile, "viewers", VIEWERS)
        update = sg.Segment(segment_id="viewers", name="window shoppers", description="d", rule=WINDOW_SHOPPERS)
        await profile.api.UpdateSegment(sg.UpdateSegmentRequest(segment=update, expected_version=1))
        await profile.api.DeleteSegment(sg.DeleteSegmentRequest(segment_id="viewers"))
        await settled(profile)

        found = definitions(await stream_contents(nc, profile))
    finally:
        await stop_profile(profile)

    assert [(verb, msg_id) for verb, msg_id, _ in found] == [
        ("defined", "segdef:viewers:1:defined"),
        ("updated", "segdef:viewers:2:updated"),
        ("deleted", "segdef:viewers:2:deleted"),
    ]
    defined, updated, deleted = (fact for _, _, fact in found)
    assert (defined.change, defined.version, defined.name, defined.rule) == (
        sg.SEGMENT_DEFINITION_CHANGE_DEFINED, 1, "viewers", VIEWERS,
    )  # fmt: skip
    assert (updated.change, updated.version, updated.name, updated.description, updated.rule) == (
        sg.SEGMENT_DEFINITION_CHANGE_UPDATED, 2, "window shoppers", "d", WINDOW_SHOPPERS,
    )  # fmt: skip
    assert (deleted.change, deleted.version, deleted.rule) == (sg.SEGMENT_DEFINITION_CHANGE_DELETED, 2, WINDOW_SHOPPERS)
    assert {fact.created_at.ToDatetime() for fact in (defined, updated, deleted)} == {created.created_at.ToDatetime()}


async def test_a_profile_rebuilt_on_an_empty_database_restores_its_segments_and_announces_nothing_twice(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> None:
    profile = await start_profile(nc, nats_server, postgres, stack_dir / "logs" / "restore")
    try:
        await create(profile, "viewers", VIEWERS)
        await create(profile, "window-shoppers", WINDOW_SHOPPERS)
        await create(profile, "gone", VIEWERS)
        for segment in ("viewers", "window-shoppers", "gone"):
            await ready(profile, segment)
        await profile.feed.events("ann", view(ago(3)), view(ago(2)))
        await profile.feed.events("bob", view(ago(3)))
        await settled(profile)
        await profile.feed.events("bob", order(ago(1), 20.0))  # bob leaves the window shoppers
        await profile.feed.events("cid", order(ago(1), 5.0))  # in none
        await profile.api.DeleteSegment(sg.DeleteSegmentRequest(segment_id="gone"))  # everyone exits
        await settled(profile)
        before_tables, before_facts = await tables(profile), await stream_contents(nc, profile)
        assert len(before_tables[1]) == 6 and sum(1 for i in before_tables[1] if i[4] is not None) == 3

        await profile.pool.execute(f'DROP SCHEMA "{profile.schema}" CASCADE')  # the database is lost
        profile = await relaunch(profile, stack_dir / "logs" / "restored")
        for segment in ("viewers", "window-shoppers"):
            await ready(profile, segment)  # the replay ended and its sweep recomputed every segment
        await settled(profile)

        assert await tables(profile) == before_tables
        assert await stream_contents(nc, profile) == before_facts, "no fact was announced again"

        await profile.feed.events("dan", view(ago(0.5)))  # and it carries on, live

        async def dan_entered() -> bool:
            return len(await stream_contents(nc, profile)) == len(before_facts) + 2

        await wait_until(dan_entered)
        new = (await stream_contents(nc, profile))[len(before_facts) :]
        assert sorted(subject.rsplit(".", 1)[-1] for subject, _, _ in new) == ["entered", "entered"]
    finally:
        await stop_profile(profile)
