"""Resolve, GetIdentities, GetHistory, Merge, Split: questions and corrections of the graph.

A merged person's id answers for its survivor everywhere. Merge and Split take the graph
lock, like the projection's batches, so a correction never interleaves with resolution.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import grpc
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye_platform.grpc import FailedPrecondition, NotFound, violation
from bullseye_platform.store.pool import Connection
from google.protobuf import any_pb2
from google.rpc.error_details_pb2 import PreconditionFailure

from bullseye_identity.api.graph_requests import (
    check,
    identifier_keys,
    person_violations,
    reason_violations,
    ref_of,
)
from bullseye_identity.config import IdentityConfig
from bullseye_identity.domain.decide import PersonView
from bullseye_identity.domain.policy import Policy
from bullseye_identity.graph import queries, sql
from bullseye_identity.graph.changes import Cause, GraphChanges
from bullseye_identity.graph.facts import Facts
from bullseye_identity.graph.split import split
from bullseye_identity.graph.workset import Workset
from bullseye_identity.vault.keyring import KeyRing

Context = grpc.aio.ServicerContext[Any, Any]
MANUAL = "manual"
SAME_PERSON = "is the same person as person_id (after earlier merges): nothing to merge"
HISTORY_KINDS = {"merged": pb.HISTORY_ENTRY_KIND_MERGED, "split": pb.HISTORY_ENTRY_KIND_SPLIT,
                 "conflict": pb.HISTORY_ENTRY_KIND_CONFLICT}  # fmt: skip


class LimitBlocks(FailedPrecondition):
    """FAILED_PRECONDITION naming the identifier limit, as google.rpc.PreconditionFailure."""

    def __init__(self, message: str, *, rule: str, subject: str) -> None:
        super().__init__(message, reason="IDENTITY_LIMIT", metadata={"rule": rule})
        self.rule, self.subject = rule, subject

    def details(self) -> list[any_pb2.Any]:
        broken = PreconditionFailure.Violation(type="IDENTITY_LIMIT", subject=self.subject, description=self.rule)
        failure = PreconditionFailure(violations=[broken])
        packed = any_pb2.Any()
        packed.Pack(failure)
        return [*super().details(), packed]


def _now() -> datetime:
    return datetime.now(UTC)


async def _live_person(conn: Connection, person_id: str, field: str) -> str:
    current = await queries.current_person(conn, person_id)
    if current is None:
        raise NotFound(f"{field}: no person {person_id!r}", reason="PERSON_NOT_FOUND", metadata={"field": field})
    return current


class GraphRpcs:
    _pool: asyncpg.Pool
    _keyring: KeyRing
    _config: IdentityConfig
    _policy: Policy
    _changes: GraphChanges
    _facts: Facts

    async def Resolve(self, request: pb.ResolveRequest, context: Context) -> pb.ResolveResponse:
        keys, found = identifier_keys(request.identifiers, self._keyring)
        check(found, "identifiers")
        async with self._pool.acquire() as conn:
            hit = await queries.resolve(conn, keys, self._policy)
        if hit is None:
            raise NotFound("none of the identifiers is known (or usable: blocked values never match)",
                           reason="IDENTIFIERS_NOT_FOUND")  # fmt: skip
        return pb.ResolveResponse(person_id=hit[0], matched=ref_of(hit[1]))

    async def GetIdentities(self, request: pb.GetIdentitiesRequest, context: Context) -> pb.GetIdentitiesResponse:
        check(person_violations(request.person_id, "person_id"), "person")
        async with self._pool.acquire() as conn:
            person = await _live_person(conn, request.person_id, "person_id")
            rows = await queries.identities(conn, person)
        reply = pb.GetIdentitiesResponse(person_id=person)
        for r in rows:
            item = reply.identities.add(identifier=ref_of((r["id_type"], r["id_value"])), source=r["source"])
            item.first_seen.FromDatetime(r["first_seen"])
            item.last_seen.FromDatetime(r["last_seen"])
        return reply

    async def GetHistory(self, request: pb.GetHistoryRequest, context: Context) -> pb.GetHistoryResponse:
        check(person_violations(request.person_id, "person_id"), "person")
        async with self._pool.acquire() as conn:
            person = await _live_person(conn, request.person_id, "person_id")
            rows = await queries.history(conn, person)
        reply = pb.GetHistoryResponse(person_id=person)
        for r in rows:
            entry = reply.entries.add(
                kind=HISTORY_KINDS[r["kind"]], other_person_id=r["other_person_id"], survivor=r["survivor"],
                reason=r["reason"], rule=r["rule"], cause_event_id=r["cause_event_id"],
            )  # fmt: skip
            entry.occurred_at.FromDatetime(r["occurred_at"])
        return reply

    async def Merge(self, request: pb.MergeRequest, context: Context) -> pb.MergeResponse:
        found = [
            *person_violations(request.person_id, "person_id"),
            *person_violations(request.other_person_id, "other_person_id"),
            *reason_violations(request.reason),
        ]
        check(found, "merge")
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(sql.LOCK, sql.GRAPH_LOCK_ID)
            one = await _live_person(conn, request.person_id, "person_id")
            other = await _live_person(conn, request.other_person_id, "other_person_id")
            if one == other:
                check([violation("other_person_id", SAME_PERSON)], "merge")
            ws = Workset(conn)
            await ws.load_persons([one, other])
            survivor, merged = sorted((one, other), key=lambda p: (ws.persons[p].created_seq, p))
            self._check_limits(ws.view(survivor), ws.view(merged))
            cause = Cause(MANUAL, "", _now(), {}, note=request.reason)
            self._changes.merge(ws, survivor, merged, rule=MANUAL, cause=cause)
            await ws.flush()
        return pb.MergeResponse(survivor_person_id=survivor, merged_person_id=merged)

    def _check_limits(self, a: PersonView, b: PersonView) -> None:
        union = {t: a.counts.get(t, 0) + b.counts.get(t, 0) for t in self._policy.priority}
        broken = self._policy.broken_limit(union)
        if broken is not None:
            raise LimitBlocks(
                f"merging {a.person_id} and {b.person_id} would break the identifier limit {broken}",
                rule=broken,
                subject=f"persons/{a.person_id}+{b.person_id}",
            )

    async def Split(self, request: pb.SplitRequest, context: Context) -> pb.SplitResponse:
        keys, found = identifier_keys(request.identifiers, self._keyring)
        check([*person_violations(request.person_id, "person_id"), *found, *reason_violations(request.reason)], "split")
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(sql.LOCK, sql.GRAPH_LOCK_ID)
            person = await _live_person(conn, request.person_id, "person_id")
            owned = {(r["id_type"], r["id_value"]) for r in await queries.identities(conn, person)}
            _check_movable(owned, keys, person)
            ws = Workset(conn)
            cause = Cause(MANUAL, "", _now(), {}, note=request.reason)
            refs = [ref_of(k) for k in keys]
            done = await split(ws, self._facts, person, keys, refs, new_person_id=str(uuid.uuid4()), cause=cause)
            await ws.flush()
        return pb.SplitResponse(new_person_id=done.new_person_id, moved_event_ids=done.moved_event_ids)


def _check_movable(owned: set[tuple[str, str]], keys: list[tuple[str, str]], person: str) -> None:
    strangers = [i for i, k in enumerate(keys) if k not in owned]
    if strangers:
        raise FailedPrecondition(
            f"identifiers{strangers} are not identifiers of person {person}; see GetIdentities",
            reason="NOT_THE_PERSONS_IDENTIFIERS",
            metadata={"indexes": ",".join(map(str, strangers))},
        )
    if not owned - set(keys):
        raise FailedPrecondition(
            f"the split would move every identifier of person {person}; leave at least one",
            reason="SPLIT_MOVES_EVERYTHING",
        )
