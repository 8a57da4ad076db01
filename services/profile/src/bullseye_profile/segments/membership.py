"""Segment membership kept current: evaluate, open or close intervals, emit the facts.

`MembershipKeeper.refresh` runs at the end of every profile projection batch, in its
transaction, for the persons the batch touched: so an entry or exit, its interval and its
`segment.entered` / `segment.exited` fact (through the outbox) commit together with the
projected events, exactly once. A fact's Nats-Msg-Id is derived from its cause
("seg:<segment>:<person>:<version>:<entered|exited>:<interval start>"), so a relay that
re-publishes it is dropped by the stream's duplicate window.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bullseye.profile.v1.profile_pb2 import Profile
from bullseye.profile.v1.segments_pb2 import Rule, SegmentMembershipChanged
from bullseye_platform.eventlog import LogMessage, partition_of, subject_for
from bullseye_platform.outbox import emit_many
from bullseye_platform.store.pool import Connection
from bullseye_platform.telemetry import inject_headers
from bullseye_platform.timestamps import EPOCH, to_timestamp
from google.protobuf.timestamp_pb2 import Timestamp

from bullseye_profile.domain.policy import DEFAULT_POLICY, ProfilePolicy
from bullseye_profile.projections.resolved import Cause, FoldedThrough
from bullseye_profile.reading.load import load_profiles
from bullseye_profile.segments import store
from bullseye_profile.segments.rules import Predicate, RuleError, compile_rule

log = logging.getLogger(__name__)
NO_CAUSE: Cause = (0, 0)


@dataclass(frozen=True)
class LiveSegment:
    segment_id: str
    version: int
    holds: Predicate


@dataclass(frozen=True)
class Change:
    segment_id: str
    person_id: str
    version: int
    entered: bool
    # The start of the interval entered or left: part of the fact's id.
    interval_start: datetime
    cause: Cause = NO_CAUSE  # none given: a rule, an RFM run or time made it (FoldedThrough names one)


@functools.lru_cache(maxsize=4096)
def compiled(rule: bytes) -> Predicate:
    """Stored rules were validated when written; compile each distinct one once per process."""
    return compile_rule(Rule.FromString(rule))


async def live_segments(conn: Connection) -> list[LiveSegment]:
    """Every live segment, compiled. A stored rule that no longer compiles (the Profile message
    lost a field it names) is skipped, its membership frozen, rather than failing every
    projection batch."""
    live = []
    for segment_id, version, rule in await store.live_rules(conn):
        try:
            live.append(LiveSegment(segment_id, version, compiled(rule)))
        except RuleError as exc:
            log.error("segment %s v%d is skipped: its rule no longer compiles: %s", segment_id, version, exc)
    return live


def nanos(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


def never(_: Profile, __: int) -> bool:
    return False


class MembershipKeeper:
    """Decides entries and exits and records them; one per process, shared by all callers."""

    def __init__(
        self, *, subject_prefix: str, partitions: int, folded: FoldedThrough, policy: ProfilePolicy = DEFAULT_POLICY
    ) -> None:
        self._prefix, self._partitions, self._folded, self.policy = subject_prefix, partitions, folded, policy

    async def refresh(
        self, conn: Connection, person_ids: Sequence[str], now: datetime, causes: Mapping[str, Cause] | None = None
    ) -> None:
        """Re-evaluate every live segment for `person_ids`, in the caller's transaction; a
        person's changes name their `causes` entry (the RESOLVED record folded) in their facts.

        A person without a profile (merged away, or no event up to `now`) is in no segment.
        """
        await store.lock_shared(conn)
        segments = await live_segments(conn)
        if not segments or not person_ids:
            return
        profiles = await load_profiles(conn, person_ids, now, policy=self.policy)
        await self.reconcile(conn, segments, person_ids, profiles, now, causes)

    async def reconcile(
        self,
        conn: Connection,
        segments: Sequence[LiveSegment],
        person_ids: Sequence[str],
        profiles: Mapping[str, Profile],
        now: datetime,
        causes: Mapping[str, Cause] | None = None,
    ) -> list[Change]:
        """Make the open intervals of `person_ids` in `segments` match the rules; returns the changes.

        The caller holds the membership lock (shared or exclusive).
        """
        persons = sorted(set(person_ids))
        current = await store.open_intervals(conn, [s.segment_id for s in segments], persons)
        at, causes = nanos(now), causes or {}
        changes = []
        for person in persons:
            profile, cause = profiles.get(person), causes.get(person, NO_CAUSE)
            for segment in segments:
                holds = profile is not None and segment.holds(profile, at)
                interval = current.get((segment.segment_id, person))
                if holds and interval is None:
                    changes.append(Change(segment.segment_id, person, segment.version, True, now, cause))
                elif not holds and interval is not None:
                    changes.append(
                        Change(segment.segment_id, person, segment.version, False, interval.entered_at, cause)
                    )
        return await self._record(conn, await self._caused(conn, changes), now)

    async def _caused(self, conn: Connection, changes: list[Change]) -> list[Change]:
        """Every change names a cause: the changes no RESOLVED record made, where the fold stood."""
        uncaused = sorted({c.person_id for c in changes if c.cause == NO_CAUSE})
        if not uncaused:
            return changes
        found = await self._folded.causes(conn, uncaused)
        return [replace(c, cause=found.get(c.person_id, NO_CAUSE)) if c.cause == NO_CAUSE else c for c in changes]

    async def close_all(self, conn: Connection, segment_id: str, version: int, now: datetime) -> int:
        """Every member of the segment exits (it is being deleted); the caller holds the lock exclusively."""
        members = await store.open_members(conn, segment_id)
        gone = LiveSegment(segment_id, version, never)
        return len(await self.reconcile(conn, [gone], members, {}, now))

    async def _record(self, conn: Connection, changes: Sequence[Change], now: datetime) -> list[Change]:
        """Write the intervals; returns the changes that happened (a concurrent writer may have won)."""
        exits = [(c.segment_id, c.version, c.person_id) for c in changes if not c.entered]
        entries = [(c.segment_id, c.version, c.person_id) for c in changes if c.entered]
        # Close before opening: the unique index allows one open interval per (segment, person).
        closed = await store.close_open(conn, exits, now)
        opened = await store.open_new(conn, entries, now)
        done = [c for c in changes if (c.segment_id, c.person_id) in (opened if c.entered else closed)]
        if done:
            # One trace context and one time for the batch's facts: they share their cause.
            occurred_at, headers = to_timestamp(now), inject_headers({})
            await emit_many(conn, [self._fact(c, occurred_at, headers) for c in done])
        return done

    def _fact(self, change: Change, occurred_at: Timestamp, headers: dict[str, str]) -> LogMessage:
        verb = "entered" if change.entered else "exited"
        payload = SegmentMembershipChanged(
            segment_id=change.segment_id,
            person_id=change.person_id,
            entered=change.entered,
            rule_version=change.version,
            occurred_at=occurred_at,
            entered_at=occurred_at if change.entered else to_timestamp(change.interval_start),
            resolved_partition=change.cause[0],
            resolved_seq=change.cause[1],
        )
        start = nanos(change.interval_start) // 1000
        return LogMessage(
            subject=subject_for(self._prefix, partition_of(change.person_id, self._partitions), f"segment.{verb}"),
            payload=payload.SerializeToString(),
            msg_id=f"seg:{change.segment_id}:{change.person_id}:{change.version}:{verb}:{start}",
            headers=headers,
        )
