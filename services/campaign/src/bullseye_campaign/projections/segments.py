"""PROFILE's segment facts: the segments profile defined, who is in them now, and (live only)
the persons who enter a campaign by entering its audience segment.

Membership facts are in each person's order on PROFILE (an entry before the exit that ends
it), so the current members are kept by applying them as they come. A segment entry enters
the campaigns whose entry is `segment_entered` on that audience, once per membership interval
(the occurrence is the segment and the interval's start), after the entry's delay; the person
must still be in the audience then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.profile.v1 import segments_pb2 as spb
from bullseye_platform.eventlog import LogRecord, kind_of
from bullseye_platform.store.pool import Connection

from bullseye_campaign.delivery.entries import Entry, enter
from bullseye_campaign.domain import keys
from bullseye_campaign.projections.triggers import launched_at

Fact = spb.SegmentDefinitionChanged | spb.SegmentMembershipChanged


def decode(records: Sequence[LogRecord]) -> list[Fact]:
    """The segment facts of `records`, in order (other kinds are not campaign's)."""
    facts: list[Fact] = []
    for record in records:
        verb = kind_of(record.subject)
        if verb in ("defined", "updated", "deleted"):
            facts.append(spb.SegmentDefinitionChanged.FromString(record.data))
        elif verb in ("entered", "exited"):
            facts.append(spb.SegmentMembershipChanged.FromString(record.data))
    return facts


def causes(facts: Sequence[Fact]) -> dict[int, int]:
    """RESOLVED partition -> the last record of it whose fold made one of these entries: the
    person's consent and zone, which campaign reads from RESOLVED, are folded by then."""
    needs: dict[int, int] = {}
    for fact in facts:
        if isinstance(fact, spb.SegmentMembershipChanged) and fact.entered and fact.resolved_seq:
            partition = fact.resolved_partition
            needs[partition] = max(needs.get(partition, 0), fact.resolved_seq)
    return needs


async def apply(conn: Connection, facts: Sequence[Fact]) -> list[spb.SegmentMembershipChanged]:
    """Fold the facts into the segment tables; returns the entries among them (in order)."""
    entered = []
    for fact in facts:
        if isinstance(fact, spb.SegmentDefinitionChanged):
            await _definition(conn, fact)
        else:
            await _membership(conn, fact)
            if fact.entered:
                entered.append(fact)
    return entered


async def _definition(conn: Connection, fact: spb.SegmentDefinitionChanged) -> None:
    deleted = fact.occurred_at.ToDatetime(tzinfo=UTC) if fact.change == spb.SEGMENT_DEFINITION_CHANGE_DELETED else None
    await conn.execute(
        "INSERT INTO known_segments (segment_id, version, deleted_at) VALUES ($1, $2, $3) ON CONFLICT (segment_id) "
        "DO UPDATE SET version = EXCLUDED.version, deleted_at = EXCLUDED.deleted_at "
        "WHERE known_segments.version <= EXCLUDED.version",
        fact.segment_id, fact.version, deleted,
    )  # fmt: skip
    if deleted is not None:
        await conn.execute("DELETE FROM segment_members WHERE segment_id = $1", fact.segment_id)


async def _membership(conn: Connection, fact: spb.SegmentMembershipChanged) -> None:
    if fact.entered:
        await conn.execute(
            "INSERT INTO segment_members (segment_id, person_id, entered_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (segment_id, person_id) DO UPDATE SET entered_at = EXCLUDED.entered_at",
            fact.segment_id, fact.person_id, fact.occurred_at.ToDatetime(tzinfo=UTC),
        )  # fmt: skip
    else:
        await conn.execute(
            "DELETE FROM segment_members WHERE segment_id = $1 AND person_id = $2", fact.segment_id, fact.person_id
        )


async def enter_on_segments(
    conn: Connection, entered: Sequence[spb.SegmentMembershipChanged], live: Sequence[cpb.Campaign]
) -> None:
    entries = []
    for campaign in live:
        if campaign.entry.WhichOneof("kind") != "segment_entered":
            continue
        audience = campaign.audience.segment_id or campaign.audience.owned_segment_id
        delay = campaign.entry.segment_entered.delay.ToTimedelta()
        for fact in entered:
            when = fact.occurred_at.ToDatetime(tzinfo=UTC)
            if fact.segment_id == audience and when >= launched_at(campaign):
                occurrence = keys.segment_occurrence(fact.segment_id, when)
                key = keys.SendKey(campaign.campaign_id, fact.person_id, occurrence)
                entries.append(Entry(key, when, when + delay, {"segment_id": fact.segment_id}))
    await enter(conn, entries)
