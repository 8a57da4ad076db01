"""Segment RPCs: definitions (create, update, delete, list, get), Estimate, members and history.

A mixin of the ProfileService servicer, which provides `_pool` and `_segments`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC
from typing import Any

import asyncpg
import grpc
from bullseye.profile.v1 import segments_pb2 as pb
from bullseye_platform.grpc import AlreadyExists, FailedPrecondition, NotFound, violation
from bullseye_platform.store.pool import Connection

from bullseye_profile.reading.load import iter_profiles
from bullseye_profile.segments import Segments, store
from bullseye_profile.segments import requests as check
from bullseye_profile.segments.membership import nanos
from bullseye_profile.segments.recompute import queue_recompute
from bullseye_profile.segments.rules import compile_rule

Context = grpc.aio.ServicerContext[Any, Any]
MAX_PAGE = 5000


def _not_found(segment_id: str) -> NotFound:
    return NotFound(f"no segment {segment_id!r}", reason="SEGMENT_NOT_FOUND", metadata={"segment_id": segment_id})


def _check_version(segment: pb.Segment, expected: int) -> None:
    if expected and segment.version != expected:
        raise FailedPrecondition(
            f"segment {segment.segment_id!r} is at version {segment.version}, not {expected}: read it again and retry",
            reason="SEGMENT_VERSION_MISMATCH",
            metadata={"segment_id": segment.segment_id, "version": str(segment.version)},
        )


class SegmentRpcs:
    _pool: asyncpg.Pool
    _segments: Segments

    async def _live(self, conn: Connection, segment_id: str, *, for_update: bool = False) -> pb.Segment:
        segment = await store.get_segment(conn, segment_id, for_update=for_update)
        if segment is None:
            raise _not_found(segment_id)
        return segment

    async def CreateSegment(self, request: pb.CreateSegmentRequest, context: Context) -> pb.CreateSegmentResponse:
        wanted = check.checked_segment(request.segment, request.HasField("segment"), creating=True)
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                now = self._segments.clock()
                created = await store.insert_segment(conn, wanted, now)
                await self._segments.definitions.emit(conn, pb.SEGMENT_DEFINITION_CHANGE_DEFINED, created, now)
                await queue_recompute(conn, created.segment_id, created.version, now)
        except asyncpg.UniqueViolationError:
            raise AlreadyExists(
                f"segment id {wanted.segment_id!r} is taken (ids of deleted segments too)",
                reason="SEGMENT_EXISTS",
                metadata={"segment_id": wanted.segment_id},
            ) from None
        return pb.CreateSegmentResponse(segment=created)

    async def UpdateSegment(self, request: pb.UpdateSegmentRequest, context: Context) -> pb.UpdateSegmentResponse:
        wanted = check.checked_segment(request.segment, request.HasField("segment"), creating=False)
        async with self._pool.acquire() as conn, conn.transaction():
            _check_version(await self._live(conn, wanted.segment_id, for_update=True), request.expected_version)
            now = self._segments.clock()
            updated = await store.update_segment(conn, wanted, now)
            await self._segments.definitions.emit(conn, pb.SEGMENT_DEFINITION_CHANGE_UPDATED, updated, now)
            await queue_recompute(conn, updated.segment_id, updated.version, now)
        return pb.UpdateSegmentResponse(segment=updated)

    async def DeleteSegment(self, request: pb.DeleteSegmentRequest, context: Context) -> pb.DeleteSegmentResponse:
        segment_id = check.check_segment_id(request.segment_id)
        async with self._pool.acquire() as conn, conn.transaction():
            # Exclusive: no projection batch may re-enter someone while the members exit.
            await store.lock_exclusive(conn)
            segment = await self._live(conn, segment_id, for_update=True)
            _check_version(segment, request.expected_version)
            now = self._segments.clock()
            exited = await self._segments.keeper.close_all(conn, segment_id, segment.version, now)
            await store.mark_deleted(conn, segment_id, now)
            await self._segments.definitions.emit(conn, pb.SEGMENT_DEFINITION_CHANGE_DELETED, segment, now)
        return pb.DeleteSegmentResponse(exited=exited)

    async def ListSegments(self, request: pb.ListSegmentsRequest, context: Context) -> pb.ListSegmentsResponse:
        size = check.page_size(request.page_size, default=100, most=500)
        after = check.after(request.page_token)
        async with self._pool.acquire() as conn:
            segments = await store.list_segments(conn, after=after, limit=size)
        token = check.page_token(segments[-1].segment_id) if len(segments) == size else ""
        return pb.ListSegmentsResponse(segments=segments, next_page_token=token)

    async def GetSegment(self, request: pb.GetSegmentRequest, context: Context) -> pb.GetSegmentResponse:
        segment_id = check.check_segment_id(request.segment_id)
        async with self._pool.acquire() as conn:
            segment = await self._live(conn, segment_id)
            count = await store.member_count(conn, segment_id)
        return pb.GetSegmentResponse(segment=segment, member_count=count)

    async def Estimate(self, request: pb.EstimateRequest, context: Context) -> pb.EstimateResponse:
        """An exact count over every profile (a full scan: fine for 10^5 profiles, slow for 10^7)."""
        check.raise_if(check.rule_problems(request.rule, request.HasField("rule"), "rule"), "rule")
        holds = compile_rule(request.rule)
        now = self._segments.clock()
        at, matching, population = nanos(now), 0, 0
        async with self._pool.acquire() as conn:
            async for profile in iter_profiles(conn, now, policy=self._segments.keeper.policy):
                population += 1
                matching += holds(profile, at)
        return pb.EstimateResponse(matching=matching, population=population)

    async def ListMembers(
        self, request: pb.ListMembersRequest, context: Context
    ) -> AsyncIterator[pb.ListMembersResponse]:
        segment_id = check.check_segment_id(request.segment_id)
        size = check.page_size(request.page_size, default=500, most=MAX_PAGE)
        after = check.after(request.page_token)
        if request.limit < 0:
            check.raise_if([violation("limit", "must be 0 (no limit) or more")], "limit")
        async with self._pool.acquire() as conn:
            await self._live(conn, segment_id)
        async for page in self._member_pages(segment_id, after, size, request.limit or None):
            yield page

    async def _member_pages(
        self, segment_id: str, after: str, size: int, left: int | None
    ) -> AsyncIterator[pb.ListMembersResponse]:
        while left is None or left > 0:
            wanted = size if left is None else min(size, left)
            # A connection per page: a slow reader must not hold one for the whole stream.
            async with self._pool.acquire() as conn:
                members = await store.current_page(conn, segment_id, after=after, limit=wanted)
            left = None if left is None else left - len(members)
            exhausted = len(members) < wanted
            after = members[-1].person_id if members else after
            # Stopped by `limit`, the token still resumes: there may be more members.
            yield pb.ListMembersResponse(members=members, next_page_token="" if exhausted else check.page_token(after))
            if exhausted:
                return

    async def IsMember(self, request: pb.IsMemberRequest, context: Context) -> pb.IsMemberResponse:
        segment_id = check.check_segment_id(request.segment_id)
        person_id = check.check_person_id(request.person_id)
        async with self._pool.acquire() as conn:
            await self._live(conn, segment_id)
            member = await store.current_membership(conn, segment_id, person_id)
        return pb.IsMemberResponse(member=member is not None, membership=member)

    async def GetMembershipAt(self, request: pb.GetMembershipAtRequest, context: Context) -> pb.GetMembershipAtResponse:
        segment_id = check.check_segment_id(request.segment_id)
        if not request.HasField("at"):
            check.raise_if([violation("at", "set the point in time to answer for")], "at")
        size = check.page_size(request.page_size, default=500, most=MAX_PAGE)
        after = check.after(request.page_token)
        async with self._pool.acquire() as conn:
            # Deleted segments answer too: their history is kept.
            if not await store.segment_exists(conn, segment_id):
                raise _not_found(segment_id)
            members = await store.page_at(conn, segment_id, request.at.ToDatetime(tzinfo=UTC), after=after,
                                          limit=size)  # fmt: skip
        token = check.page_token(members[-1].person_id) if len(members) == size else ""
        return pb.GetMembershipAtResponse(members=members, next_page_token=token)
