"""Manual corrections by an operator: Merge and Split, their facts on RESOLVED, their errors."""

from __future__ import annotations

import grpc
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ipb_grpc
from google.rpc import error_details_pb2
from nats.aio.client import Client as NATS

from tests.identity.graph_support import (
    ANON,
    USER,
    ResolvedLog,
    event,
    history,
    ref,
    resolve,
    send,
    uid,
)
from tests.ingestion.helpers import detail, failure, field_violations


async def persons(
    front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog, *ids: dict[str, str]
) -> list[str]:
    """One new person per set of identifiers, oldest first."""
    events = [event(**one) for one in ids]
    for one in events:
        await send(front, key, [one])
    await resolved.until_resolved(events)
    return [resolved.person_of(e) for e in events]


async def test_merge_folds_the_newer_person_into_the_older_and_publishes_it(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    user = uid("user")
    old, new = await persons(front, key, resolved, {"anon": uid("anon")}, {"user": user})
    reply = await graph.Merge(pb.MergeRequest(person_id=new, other_person_id=old, reason="same card on file"))
    assert (reply.survivor_person_id, reply.merged_person_id) == (old, new)

    later = event(user=user)
    await send(front, key, [later])
    await resolved.until_resolved([later])
    [merged] = resolved.merges()
    assert (merged.survivor_person_id, merged.merged_person_id, merged.reason) == (old, new, "manual")
    assert resolved.person_of(later) == old
    entry = (await history(graph, new))[-1]
    assert (entry.kind, entry.other_person_id, entry.survivor, entry.reason) == (
        pb.HISTORY_ENTRY_KIND_MERGED, new, True, "same card on file"
    )  # fmt: skip


async def test_merging_two_user_ids_fails_naming_the_limit(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    one, two = await persons(front, key, resolved, {"user": uid("user")}, {"user": uid("user")})
    error = await failure(graph.Merge(pb.MergeRequest(person_id=one, other_person_id=two, reason="looks alike")))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "limit:user_id=1" in (error.details() or "")
    [violation] = detail(error, error_details_pb2.PreconditionFailure).violations
    assert violation.description == "limit:user_id=1"


async def test_merge_names_what_is_wrong(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    [person] = await persons(front, key, resolved, {"anon": uid("anon")})

    empty = await failure(graph.Merge(pb.MergeRequest()))
    assert empty.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(empty)) == {"person_id", "other_person_id", "reason"}
    same = await failure(graph.Merge(pb.MergeRequest(person_id=person, other_person_id=person, reason="x")))
    assert same.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(same)) == {"other_person_id"}
    unknown = await failure(graph.Merge(pb.MergeRequest(person_id=person, other_person_id="nobody", reason="x")))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    assert "other_person_id" in (unknown.details() or "")


async def test_split_moves_identifiers_and_their_events_to_a_new_person(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    user, own, borrowed = uid("user"), uid("anon"), uid("anon")
    mine = [event(user=user, anon=own), event(anon=own)]
    theirs = [event(anon=borrowed), event(anon=borrowed)]
    link = event(user=user, anon=borrowed)
    await send(front, key, [*mine, *theirs])
    await send(front, key, [link])
    await resolved.until_resolved([*mine, *theirs, link])
    person = resolved.person_of(mine[0])
    merged_away = resolved.person_of(theirs[0])

    reply = await graph.Split(
        pb.SplitRequest(person_id=merged_away, identifiers=[ref(ANON, borrowed)], reason="a shared tablet")
    )
    assert reply.new_person_id not in (person, merged_away)
    assert sorted(reply.moved_event_ids) == sorted(e.event_id for e in theirs)
    assert await resolve(graph, ref(ANON, borrowed)) == reply.new_person_id
    assert await resolve(graph, ref(USER, user)) == person
    await resolved.until_resolved([])
    later = event(anon=borrowed)
    await send(front, key, [later])
    published = await resolved.until_resolved([later])
    # One copy in the split person's partition, one in each partition holding a moved event.
    splits = [p for p in published if p.kind == "split"]
    assert {p.subject.split(".")[1] for p in splits} == {
        resolved.partition_of(person), *(resolved.partition_of(resolved.person_of(e)) for e in theirs)
    }  # fmt: skip
    for copy in splits:
        fact = copy.record.split
        assert (fact.person_id, fact.new_person_id, fact.reason) == (person, reply.new_person_id, "a shared tablet")
        assert [(i.type, i.value) for i in fact.moved_identifiers] == [(ANON, borrowed)]
    moved = [event_id for p in splits for event_id in p.record.split.moved_event_ids]
    assert sorted(moved) == sorted(reply.moved_event_ids)
    assert resolved.person_of(later) == reply.new_person_id


async def test_split_refuses_to_move_everything_or_someone_elses_identifiers(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog
) -> None:
    user, anon = uid("user"), uid("anon")
    person, other = await persons(front, key, resolved, {"user": user, "anon": anon}, {"anon": uid("anon")})

    everything = pb.SplitRequest(person_id=person, identifiers=[ref(USER, user), ref(ANON, anon)], reason="x")
    error = await failure(graph.Split(everything))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "every identifier" in (error.details() or "")
    foreign = pb.SplitRequest(person_id=other, identifiers=[ref(ANON, anon)], reason="x")
    error = await failure(graph.Split(foreign))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "identifiers[0]" in (error.details() or "")
    bad = await failure(graph.Split(pb.SplitRequest(person_id=person, identifiers=[pb.IdentifierRef(value="x")])))
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(bad)) == {"identifiers[0].type", "reason"}
    unknown = await failure(graph.Split(pb.SplitRequest(person_id="nobody", identifiers=[ref(ANON, anon)], reason="x")))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND


async def test_resolve_and_lookups_name_bad_fields(graph: pb_grpc.IdentityServiceStub, nc: NATS) -> None:
    empty = await failure(graph.Resolve(pb.ResolveRequest()))
    assert set(field_violations(empty)) == {"identifiers"}
    bad = await failure(
        graph.Resolve(
            pb.ResolveRequest(
                identifiers=[
                    pb.IdentifierRef(value="x"),
                    pb.IdentifierRef(type=pb.IDENTIFIER_TYPE_EMAIL, value="not-an-email"),
                    pb.IdentifierRef(type=pb.IDENTIFIER_TYPE_PHONE, value="0612345678"),
                    pb.IdentifierRef(type=pb.IDENTIFIER_TYPE_USER_ID),
                    pb.IdentifierRef(type=pb.IDENTIFIER_TYPE_USER_ID, keyed_hash="ab"),
                ]
            )
        )
    )
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(bad)) == {
        "identifiers[0].type", "identifiers[1].value", "identifiers[2].value", "identifiers[3].value",
        "identifiers[4].keyed_hash",
    }  # fmt: skip
    unknown = await failure(graph.Resolve(pb.ResolveRequest(identifiers=[ref(USER, uid("user"))])))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    for call in (graph.GetIdentities(pb.GetIdentitiesRequest()), graph.GetHistory(pb.GetHistoryRequest())):
        error = await failure(call)
        assert set(field_violations(error)) == {"person_id"}
    missing = await failure(graph.GetHistory(pb.GetHistoryRequest(person_id="nobody")))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
