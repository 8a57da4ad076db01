"""Resolve, GetIdentities, GetHistory, Merge, Split: questions and corrections of the graph.

A merged person's id answers for its survivor everywhere. Merge and Split change nothing
themselves: they record a correction in EVENTS and answer with what the resolver made of
it (corrections/), so the graph changes only in EVENTS' order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import grpc
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye_platform.grpc import NotFound, violation

from bullseye_identity.api.graph_requests import (
    check,
    identifier_keys,
    person_violations,
    reason_violations,
    request_id_violations,
)
from bullseye_identity.config import IdentityConfig
from bullseye_identity.corrections.commands import answer, merge_command, split_command
from bullseye_identity.corrections.recorder import Recorder
from bullseye_identity.corrections.rules import SAME_PERSON
from bullseye_identity.domain.kinds import decode_key
from bullseye_identity.domain.policy import Policy
from bullseye_identity.graph import queries
from bullseye_identity.graph.refs import STRENGTHS, ref_of
from bullseye_identity.vault.keyring import KeyRing

Context = grpc.aio.ServicerContext[Any, Any]
HISTORY_KINDS = {"merged": pb.HISTORY_ENTRY_KIND_MERGED, "split": pb.HISTORY_ENTRY_KIND_SPLIT,
                 "conflict": pb.HISTORY_ENTRY_KIND_CONFLICT, "shared": pb.HISTORY_ENTRY_KIND_SHARED}  # fmt: skip


def now_utc() -> datetime:
    return datetime.now(UTC)


class GraphRpcs:
    _pool: asyncpg.Pool
    _keyring: KeyRing
    _config: IdentityConfig
    _policy: Policy
    _recorder: Recorder
    _clock: Callable[[], datetime]

    async def Resolve(self, request: pb.ResolveRequest, context: Context) -> pb.ResolveResponse:
        keys, found = identifier_keys(request.identifiers, self._keyring)
        check(found, "identifiers")
        async with self._pool.acquire() as conn:
            hit = await queries.resolve(conn, keys, self._policy)
        if hit is None:
            raise NotFound(
                "none of the identifiers is known (or usable: placeholders and values marked shared never match)",
                reason="IDENTIFIERS_NOT_FOUND",
            )
        return pb.ResolveResponse(person_id=hit[0], matched=ref_of(hit[1]))

    async def GetIdentities(self, request: pb.GetIdentitiesRequest, context: Context) -> pb.GetIdentitiesResponse:
        check(person_violations(request.person_id, "person_id"), "person")
        async with self._pool.acquire() as conn:
            person = await queries.live_person(conn, request.person_id, "person_id")
            rows = await queries.identities(conn, person)
        reply = pb.GetIdentitiesResponse(person_id=person)
        for r in rows:
            item = reply.identities.add(
                identifier=ref_of((r["id_type"], r["id_value"])), source=r["source"],
                linked_by_event_id=r["cause_event_id"], linked_through=ref_of(decode_key(r["via"])),
                strength=pb.LINK_STRENGTH_STRONG if r["strong"] else pb.LINK_STRENGTH_WEAK,
                shared=r["shared"] is not None, shared_reason=r["shared"] or "",
            )  # fmt: skip
            item.first_seen.FromDatetime(r["first_seen"])
            item.last_seen.FromDatetime(r["last_seen"])
        return reply

    async def GetHistory(self, request: pb.GetHistoryRequest, context: Context) -> pb.GetHistoryResponse:
        check(person_violations(request.person_id, "person_id"), "person")
        async with self._pool.acquire() as conn:
            person = await queries.live_person(conn, request.person_id, "person_id")
            rows = await queries.history(conn, person)
        reply = pb.GetHistoryResponse(person_id=person)
        for r in rows:
            entry = reply.entries.add(
                kind=HISTORY_KINDS[r["kind"]], other_person_id=r["other_person_id"], survivor=r["survivor"],
                reason=r["reason"], rule=r["rule"], cause_event_id=r["cause_event_id"],
                identifier=ref_of(decode_key(r["identifier"])),
                strength=STRENGTHS.get(r["strength"], pb.LINK_STRENGTH_UNSPECIFIED),
            )  # fmt: skip
            entry.occurred_at.FromDatetime(r["occurred_at"])
        return reply

    async def Merge(self, request: pb.MergeRequest, context: Context) -> pb.MergeResponse:
        found = [
            *person_violations(request.person_id, "person_id"),
            *person_violations(request.other_person_id, "other_person_id"),
            *reason_violations(request.reason),
            *request_id_violations(request.request_id),
        ]
        if not found and request.person_id == request.other_person_id:
            found.append(violation("other_person_id", SAME_PERSON))
        check(found, "merge")
        command = merge_command(request, at=self._clock())
        return answer(await self._recorder.run(command, remaining=context.time_remaining()), pb.MergeResponse)

    async def Split(self, request: pb.SplitRequest, context: Context) -> pb.SplitResponse:
        keys, found = identifier_keys(request.identifiers, self._keyring)
        found += [*person_violations(request.person_id, "person_id"), *reason_violations(request.reason)]
        check([*found, *request_id_violations(request.request_id)], "split")
        command = split_command(request, [ref_of(k) for k in keys], at=self._clock())
        return answer(await self._recorder.run(command, remaining=context.time_remaining()), pb.SplitResponse)
