"""Merge and Split are commands recorded in EVENTS (docs/design.md D1): appended through
ingestion before they take effect, one command per request (a retry is applied once and
answered alike), answered by any identity process, and UNAVAILABLE, never half-done, when
the log's writer is away. (The resolver being away is in test_rebuild.py, on a stack of its own.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ipb_grpc
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess, service_socket
from google.rpc import error_details_pb2
from nats.aio.client import Client as NATS

from tests.channels import channel
from tests.conftest import service_env
from tests.identity.graph_support import (
    ANON,
    EMAIL,
    ResolvedLog,
    corrections_since,
    event,
    history,
    identified,
    ref,
    send,
    uid,
)
from tests.ingestion.helpers import detail, failure, field_violations, last_seq, reason


def identity_process(
    nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, name: str, **extra: str
) -> Iterator[ServiceProcess]:
    """An identity process that answers RPCs only (the session's identity resolves)."""
    env = service_env(nats_server, postgres, IDENTITY_RESOLVER="false", **extra)
    process = ServiceProcess("identity", "bullseye_identity", env, stack_dir / "logs" / name).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def replica(
    nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path, ingestion_socket: Path
) -> Iterator[ServiceProcess]:
    yield from identity_process(
        nats_server, postgres, stack_dir, "replica", IDENTITY_INGESTION_ADDRESS=f"unix:{ingestion_socket}"
    )


@pytest.fixture(scope="module")
def cut_off(nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path) -> Iterator[ServiceProcess]:
    """An identity process whose ingestion is not there: a socket path of this test's own, which
    nothing can be listening on (a free TCP port could be taken meanwhile)."""
    yield from identity_process(
        nats_server, postgres, stack_dir, "cut-off", IDENTITY_SCHEMA=f"identity_cut_{uuid.uuid4().hex[:6]}",
        IDENTITY_INGESTION_ADDRESS=f"unix:{service_socket(stack_dir / 'sockets', 'no-ingestion')}",
    )  # fmt: skip


@pytest.fixture(scope="module")
async def api_of(
    replica: ServiceProcess, cut_off: ServiceProcess
) -> AsyncIterator[dict[str, pb_grpc.IdentityServiceStub]]:
    async with channel(replica.address) as one, channel(cut_off.address) as other:
        yield {"replica": pb_grpc.IdentityServiceStub(one), "cut_off": pb_grpc.IdentityServiceStub(other)}


async def two_persons(front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog) -> list[str]:
    events = [event(anon=uid("anon")), event(anon=uid("anon"))]
    await send(front, key, events)
    await resolved.until_resolved(events)
    return [resolved.person_of(e) for e in events]


async def test_a_merge_is_an_events_record_and_a_retry_is_the_same_command_applied_once(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog,
    nc: NATS,
) -> None:  # fmt: skip
    old, new = await two_persons(front, key, resolved)
    mark = await last_seq(nc)
    asked = pb.MergeRequest(person_id=new, other_person_id=old, reason="same card on file")

    reply = await graph.Merge(asked)
    assert await graph.Merge(asked) == reply  # a retry: answered alike, nothing appended again

    [(_, recorded)] = await corrections_since(nc, mark)
    assert (recorded.merge.person_id, recorded.merge.other_person_id, recorded.reason) == (new, old, asked.reason)
    merged = [e for e in await history(graph, old) if e.kind == pb.HISTORY_ENTRY_KIND_MERGED]
    assert [(e.other_person_id, e.cause_event_id) for e in merged] == [(new, recorded.command_id)]
    # Asked again on purpose (a request id): a new command, decided on the graph as it is now.
    again = pb.MergeRequest(person_id=new, other_person_id=old, reason=asked.reason, request_id=str(uuid.uuid4()))
    error = await failure(graph.Merge(again))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {"other_person_id"}
    assert len(await corrections_since(nc, mark)) == 2


async def test_a_split_names_an_email_by_its_keyed_hash_in_events_and_a_retry_gives_the_same_person(
    graph: pb_grpc.IdentityServiceStub, front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog,
    nc: NATS,
) -> None:  # fmt: skip
    email = f"{uid('ann')}@example.com"
    sign_in = identified(email=email, user=uid("user"), anon=uid("anon"))
    await send(front, key, [sign_in])
    await resolved.until_resolved([sign_in])
    mark = await last_seq(nc)
    asked = pb.SplitRequest(person_id=resolved.person_of(sign_in), identifiers=[ref(EMAIL, email)], reason="typo")

    reply = await graph.Split(asked)
    assert await graph.Split(asked) == reply

    [(payload, recorded)] = await corrections_since(nc, mark)
    assert email.encode() not in payload
    [moved] = recorded.split.identifiers
    assert (moved.type, moved.value, len(moved.keyed_hash)) == (EMAIL, "", 64)
    owned = await graph.GetIdentities(pb.GetIdentitiesRequest(person_id=reply.new_person_id))
    assert [(i.identifier.type, i.identifier.keyed_hash) for i in owned.identities] == [(EMAIL, moved.keyed_hash)]


async def test_a_process_that_does_not_resolve_answers_with_what_the_resolver_decided(
    api_of: dict[str, pb_grpc.IdentityServiceStub], graph: pb_grpc.IdentityServiceStub,
    front: ipb_grpc.IngestionServiceStub, key: str, resolved: ResolvedLog,
) -> None:  # fmt: skip
    one, other = await two_persons(front, key, resolved)
    reply = await api_of["replica"].Merge(pb.MergeRequest(person_id=one, other_person_id=other, reason="by phone"))

    assert {reply.survivor_person_id, reply.merged_person_id} == {one, other}
    found = await graph.GetHistory(pb.GetHistoryRequest(person_id=reply.merged_person_id))
    assert [e.reason for e in found.entries] == ["by phone"]
    unknown = await failure(api_of["replica"].Split(pb.SplitRequest(person_id="nobody", identifiers=[ref(ANON, "a")],
                                                                    reason="x")))  # fmt: skip
    assert unknown.code() == grpc.StatusCode.NOT_FOUND


async def test_without_the_logs_writer_a_merge_answers_unavailable_and_changes_nothing(
    api_of: dict[str, pb_grpc.IdentityServiceStub],
) -> None:
    error = await failure(
        api_of["cut_off"].Merge(pb.MergeRequest(person_id="p-1", other_person_id="p-2", reason="x"), timeout=20)
    )

    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert reason(error) == "EVENT_LOG_UNAVAILABLE"
    assert "ingestion" in (error.details() or "") and "retry the same request" in (error.details() or "")
    assert detail(error, error_details_pb2.RetryInfo).retry_delay.seconds >= 1
