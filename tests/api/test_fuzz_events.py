"""Property-based: whatever event ingestion accepts, identity resolves and profile folds it;
nothing accepted ends up set aside as a dead letter.

Events start from a valid example of a random payload kind (tests/ingestion/test_validation)
and get hostile or odd text (all of Unicode, control characters, right-to-left marks,
over-long strings, custom traits) in every field whose text is free, and an odd time. Each
carries a user id of its own, so the person it reaches can be asked for by that id.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import grpc
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as id_pb
from bullseye.identity.v1 import identity_pb2_grpc as id_grpc
from bullseye.ingestion.v1 import ingestion_pb2 as in_pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as in_grpc
from bullseye.profile.v1 import profile_pb2 as pr_pb
from bullseye.profile.v1 import profile_pb2_grpc as pr_grpc
from bullseye_devtools.stack import PostgresServer
from bullseye_devtools.stack.services import ServiceProcess
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, given, note, settings
from hypothesis import event as tally
from hypothesis import strategies as st

from tests.channels import sync_channel
from tests.ingestion.test_validation import GOOD
from tests.platform.waiting import wait_until_sync
from tests.profile.support import ProfileUnderTest
from tests.strategies import plain_text, text

# Text a projection stores or shows, with no format of its own to meet.
FREE_TEXT = [
    "identifiers.anonymous_id", "identifiers.device_id", "identifiers.loyalty_id", "context.user_agent",
    "context.session_id", *(f"context.device.{f}" for f in ("type", "manufacturer", "model", "os", "os_version")),
    *(f"context.page.{f}" for f in ("url", "path", "title", "referrer")),
    *(f"context.attribution.{f}" for f in ("utm_source", "utm_campaign", "utm_content", "campaign_id", "message_id")),
]  # fmt: skip
# Payload text with a format of its own (checked by ingestion's own rules, not fuzzed here).
FORMATTED = {"currency_code", "email", "phone", "country"}
ACCEPTED = in_pb.EVENT_STATUS_ACCEPTED


def _payload_text(message: Any) -> list[str]:
    """The free text paths of a payload message, and of the line items it holds."""
    paths = []
    for field in message.DESCRIPTOR.fields:
        if field.type == FieldDescriptor.TYPE_STRING and not field.is_repeated and field.name not in FORMATTED:
            paths.append(field.name)
        elif field.message_type is not None and field.is_repeated and not field.message_type.GetOptions().map_entry:
            for index, item in enumerate(getattr(message, field.name)):
                paths += [f"{field.name}[{index}].{path}" for path in _payload_text(item)]
    return paths


def _set(event: ev.Event, path: str, value: str) -> None:
    target: Any = event
    *parents, name = path.split(".")
    for part in parents:
        target = _step(target, part)
    setattr(target, name, value)


def _step(target: Any, part: str) -> Any:
    if "[" in part:
        name, index = part[:-1].split("[")
        return getattr(target, name)[int(index)]
    return getattr(target, part)


@st.composite
def odd_events(draw: st.DrawFn) -> ev.Event:
    kind = draw(st.sampled_from(sorted(GOOD)))
    event = ev.Event(event_id=f"fz-{uuid.uuid4()}", identifiers=ev.Identifiers(user_id=f"fz-{uuid.uuid4().hex}"))
    event.MergeFrom(GOOD[kind])
    event.occurred_at.FromDatetime(datetime.now(UTC) - timedelta(seconds=draw(st.integers(0, 6 * 86400))))
    # Half the events get only text that passes the input rules: they must be accepted and applied.
    strings = draw(st.sampled_from([plain_text(), st.one_of(plain_text(), text())]))
    payload = getattr(event, kind)
    for path in [*FREE_TEXT, *(f"{kind}.{p}" for p in _payload_text(payload))]:
        if draw(st.integers(0, 3)) == 0:
            _set(event, path, draw(strings))
    if kind == "identified":
        event.identified.traits.custom.update(draw(st.dictionaries(strings, strings, max_size=4)))
    _own_identifiers(event)
    return event


def _own_identifiers(event: ev.Event) -> None:
    """Identifiers nobody else has (other tests', other examples'): the event's person is then
    the one its user id names, and its profile counts this event alone. The fuzzed text stays,
    after a unique prefix."""
    tag = event.identifiers.user_id
    for name in ("anonymous_id", "device_id", "loyalty_id"):
        if value := getattr(event.identifiers, name):
            setattr(event.identifiers, name, f"{tag}-{value}")
    kind = event.WhichOneof("payload")
    if kind in ("signed_up", "identified") and getattr(event, kind).personal.email:
        getattr(event, kind).personal.email = f"{tag}@example.com"


def _profile_total(profiles: pr_grpc.ProfileServiceStub, user_id: str) -> int:
    ref = id_pb.IdentifierRef(type=id_pb.IDENTIFIER_TYPE_USER_ID, value=user_id)
    try:
        return int(profiles.GetProfile(pr_pb.GetProfileRequest(identifier=ref)).profile.behaviour.counts_lifetime.total)
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND, exc  # type: ignore[attr-defined]
        return 0


def _resolves(identity: id_grpc.IdentityServiceStub, user_id: str) -> bool:
    ref = id_pb.IdentifierRef(type=id_pb.IDENTIFIER_TYPE_USER_ID, value=user_id)
    try:
        identity.Resolve(id_pb.ResolveRequest(identifiers=[ref]))
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND, exc  # type: ignore[attr-defined]
        return False
    return True


async def _set_aside(dsn: str, events_sequences: list[int]) -> list[int]:
    """Which of these EVENTS records identity set aside as dead letters (other tests' tampered
    records may be there too, so only these are looked at)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT stream_seq FROM identity.projection_dead_letters WHERE stream_seq = ANY($1::bigint[])",
            events_sequences,
        )
    finally:
        await conn.close()
    return [r["stream_seq"] for r in rows]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(odd_events(), min_size=1, max_size=5))
def test_every_accepted_event_is_applied_by_identity_and_profile(
    events: list[ev.Event],
    ingestion: ServiceProcess,
    identity: ServiceProcess,
    profile: ProfileUnderTest,
    till_key: str,
    postgres: PostgresServer,
) -> None:
    with (
        sync_channel(ingestion.address, caller=None) as a,  # the till's key, per call
        sync_channel(identity.address) as b,
        sync_channel(profile.service.address) as c,
    ):
        reply = in_grpc.IngestionServiceStub(a).TrackBatch(
            in_pb.TrackBatchRequest(events=events), metadata=[("x-api-key", till_key)], timeout=30
        )
        outcomes = [(e, o) for e, o in zip(events, reply.result.outcomes, strict=True) if o.status == ACCEPTED]
        note(f"{len(outcomes)} of {len(events)} accepted")
        tally(f"accepted {len(outcomes)} of {len(events)}")
        for event, _ in outcomes:
            _applied(event, id_grpc.IdentityServiceStub(b), pr_grpc.ProfileServiceStub(c))

    # Profile folded each one (its count is 1), so none is a dead letter there either.
    assert asyncio.run(_set_aside(postgres.dsn, [o.stream_sequence for _, o in outcomes])) == []


def _applied(event: ev.Event, identity: id_grpc.IdentityServiceStub, profiles: pr_grpc.ProfileServiceStub) -> None:
    """Waits until identity resolved `event` and profile folded it."""
    user = event.identifiers.user_id
    wait_until_sync(lambda: _resolves(identity, user), within=60)
    wait_until_sync(lambda: _profile_total(profiles, user) == 1, within=60)
