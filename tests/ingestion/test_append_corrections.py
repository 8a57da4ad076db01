"""AppendCorrections: identity's correction commands become records of EVENTS, written by
ingestion (the log's only writer), once per command id, never with personal data in clear;
identity alone (scope `events:correct`) may append them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from bullseye.identity.v1 import correction_pb2 as cpb
from bullseye.identity.v1 import identity_pb2 as id_pb
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from bullseye_devtools.stack.services import ServiceProcess
from nats.aio.client import Client as NATS

from tests import channels
from tests.ingestion import helpers as h

HASH = "ab" * 32


@pytest.fixture(scope="module")
async def api(ingestion: ServiceProcess) -> AsyncIterator[pb_grpc.IngestionServiceStub]:
    """Calls as identity, the one service granted `events:correct`."""
    async with channels.channel(ingestion.address, caller="identity") as opened:
        yield h.stub(opened)


def merge(**fields: str) -> cpb.IdentityCorrection:
    made = cpb.IdentityCorrection(
        command_id=str(uuid.uuid4()), reason="same card on file",
        merge=cpb.MergePersons(person_id=f"p-{uuid.uuid4()}", other_person_id=f"p-{uuid.uuid4()}"),
    )  # fmt: skip
    made.occurred_at.FromDatetime(h.now())
    for name, value in fields.items():
        setattr(made, name, value)
    return made


def split(*identifiers: id_pb.IdentifierRef) -> cpb.IdentityCorrection:
    made = cpb.IdentityCorrection(
        command_id=str(uuid.uuid4()), reason="a shared tablet",
        split=cpb.SplitPerson(person_id=f"p-{uuid.uuid4()}", identifiers=identifiers),
    )  # fmt: skip
    made.occurred_at.FromDatetime(h.now())
    return made


async def append(api: pb_grpc.IngestionServiceStub, *corrections: cpb.IdentityCorrection) -> list[pb.CorrectionOutcome]:
    reply = await api.AppendCorrections(pb.AppendCorrectionsRequest(corrections=corrections), timeout=30)
    return list(reply.outcomes)


async def raw_since(nc: NATS, mark: int) -> list[tuple[str, str, bytes]]:
    """(subject, message id, payload) of every EVENTS message after `mark`."""
    js, found = nc.jetstream(), []
    for seq in range(mark + 1, await h.last_seq(nc) + 1):
        raw = await js.get_msg(h.STREAM, seq)
        found.append((raw.subject or "", (raw.headers or {}).get("Nats-Msg-Id", ""), raw.data or b""))
    return found


async def test_a_correction_is_an_events_record_of_its_own_kind_keyed_by_its_command_id(
    api: pb_grpc.IngestionServiceStub, nc: NATS, mark: int
) -> None:
    first = merge()
    email = id_pb.IdentifierRef(type=id_pb.IDENTIFIER_TYPE_EMAIL, keyed_hash=HASH)
    second = split(id_pb.IdentifierRef(type=id_pb.IDENTIFIER_TYPE_ANONYMOUS_ID, value="tablet-1"), email)

    outcomes = await append(api, first, second)

    assert [(o.command_id, o.status) for o in outcomes] == [
        (first.command_id, pb.EVENT_STATUS_ACCEPTED), (second.command_id, pb.EVENT_STATUS_ACCEPTED)
    ]  # fmt: skip
    stored = await raw_since(nc, mark)
    assert [(s.split(".")[0], s.rsplit(".", 1)[1], i) for s, i, _ in stored] == [
        ("events", "identity_correction", first.command_id), ("events", "identity_correction", second.command_id)
    ]  # fmt: skip
    assert [cpb.IdentityCorrection.FromString(data) for _, _, data in stored] == [first, second]
    assert [o.stream_sequence for o in outcomes] == [mark + 1, mark + 2]


async def test_the_same_command_is_appended_once(api: pb_grpc.IngestionServiceStub, nc: NATS, mark: int) -> None:
    once = merge()
    [first] = await append(api, once)
    [again] = await append(api, once)

    assert (again.status, again.stream_sequence) == (pb.EVENT_STATUS_DUPLICATE, first.stream_sequence)
    assert len(await raw_since(nc, mark)) == 1


async def test_a_malformed_correction_fails_the_call_and_nothing_is_appended(
    api: pb_grpc.IngestionServiceStub, nc: NATS, mark: int
) -> None:
    clear_email = split(id_pb.IdentifierRef(type=id_pb.IDENTIFIER_TYPE_EMAIL, value="ann@example.com"))
    no_command = merge()
    no_command.ClearField("merge")
    error = await h.failure(
        api.AppendCorrections(
            pb.AppendCorrectionsRequest(
                corrections=[merge(), merge(command_id="x", reason=""), clear_email, no_command]
            )
        )
    )

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(h.field_violations(error)) == {
        "corrections[1].command_id", "corrections[1].reason", "corrections[2].split.identifiers[0]",
        "corrections[3].command",
    }  # fmt: skip
    assert "keyed_hash" in h.field_violations(error)["corrections[2].split.identifiers[0]"]
    assert await raw_since(nc, mark) == []
    empty = await h.failure(api.AppendCorrections(pb.AppendCorrectionsRequest()))
    assert set(h.field_violations(empty)) == {"corrections"}


async def test_only_identity_may_append_corrections(
    channel: grpc.aio.Channel, ingestion: ServiceProcess, write_key: str, nc: NATS, mark: int
) -> None:
    request = pb.AppendCorrectionsRequest(corrections=[merge()])
    as_source = await h.failure(h.stub(channel).AppendCorrections(request, metadata=h.auth(write_key)))
    async with channels.channel(ingestion.address, caller="profile") as other:
        as_profile = await h.failure(h.stub(other).AppendCorrections(request))

    for refused in (as_source, as_profile):
        assert refused.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "events:correct" in (refused.details() or "") and h.reason(refused) == "SCOPE_MISSING"
    assert await raw_since(nc, mark) == []
