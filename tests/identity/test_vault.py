"""The person vault through the public surfaces: events in through ingestion, GetContact out
of identity; addresses and names never readable in identity's tables or on RESOLVED."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import asyncpg
import grpc
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye.ingestion.v1 import ingestion_pb2 as ingestion_pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ingestion_grpc
from bullseye_devtools.stack import PostgresServer
from bullseye_devtools.stack.services import ServiceProcess
from nats.aio.client import Client as NATS

from tests.identity import keys_support as ks
from tests.ingestion import helpers as h
from tests.platform.waiting import wait_until

T = TypeVar("T")
EMAIL, SMS = pb.CONTACT_CHANNEL_EMAIL, pb.CONTACT_CHANNEL_SMS
RESOLVED = "RESOLVED"


@pytest.fixture
async def pool(postgres: PostgresServer, identity: ServiceProcess) -> AsyncIterator[asyncpg.Pool]:
    opened = await ks.keyring_pool(postgres)
    yield opened
    await opened.close()


def uid() -> str:
    return uuid.uuid4().hex[:10]


def gave(hours_ago: float, *, user: str = "", anon: str = "", **personal: str) -> ev.Event:
    """An Identified event carrying personal data, `hours_ago` in the past."""
    sent = h.event(
        identified=ev.Identified(personal=ev.PersonalData(**personal)),
        occurred_at=h.now() - timedelta(hours=hours_ago),
        anonymous_id=anon or f"device-{uid()}",
    )
    sent.identifiers.user_id = user
    return sent


def logged_in(hours_ago: float, *, user: str, anon: str) -> ev.Event:
    sent = h.event(logged_in=ev.LoggedIn(method="password"), occurred_at=h.now() - timedelta(hours=hours_ago))
    sent.identifiers.CopyFrom(ev.Identifiers(user_id=user, anonymous_id=anon))
    return sent


async def send(front: ingestion_grpc.IngestionServiceStub, key: str, *events: ev.Event) -> None:
    """In order, one call each: the order in which they were given matters here."""
    for event in events:
        assert (await h.track(front, key, event)).status == ingestion_pb.EVENT_STATUS_ACCEPTED


async def eventually(probe: Callable[[], Awaitable[T | None]]) -> T:
    """Poll `probe` until it returns a value: the projection runs behind the log."""
    found: list[T] = []

    async def check() -> bool:
        value = await probe()
        if value is not None:
            found.append(value)
        return value is not None

    await wait_until(check, every=0.1)
    return found[0]


def person_of(graph: pb_grpc.IdentityServiceStub, kind: pb.IdentifierType.ValueType, value: str) -> Awaitable[str]:
    async def probe() -> str | None:
        request = pb.ResolveRequest(identifiers=[pb.IdentifierRef(type=kind, value=value)])
        try:
            return (await graph.Resolve(request)).person_id
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise
            return None

    return eventually(probe)


def user_person(graph: pb_grpc.IdentityServiceStub, user: str) -> Awaitable[str]:
    return person_of(graph, pb.IDENTIFIER_TYPE_USER_ID, user)


async def contact(graph: pb_grpc.IdentityServiceStub, person_id: str, channel: int) -> pb.GetContactResponse | None:
    try:
        return await graph.GetContact(pb.GetContactRequest(person_id=person_id, channel=channel))
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return None


async def address_becomes(graph: pb_grpc.IdentityServiceStub, person_id: str, channel: int, address: str) -> str:
    async def probe() -> str | None:
        found = await contact(graph, person_id, channel)
        return found.address if found is not None and found.address == address else None

    return await eventually(probe)


async def resolved_event(graph: pb_grpc.IdentityServiceStub, event: ev.Event) -> None:
    """Wait until identity has resolved `event` (a marker sent after the events of a test)."""
    await person_of(graph, pb.IDENTIFIER_TYPE_ANONYMOUS_ID, event.identifiers.anonymous_id)


# --- BatchGetContacts ------------------------------------------------------------------------


async def test_a_batch_answers_every_person_in_order_as_get_contact_does(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, key: str
) -> None:
    both, recycled, later, tag = f"u-{uid()}", f"u-{uid()}", f"u-{uid()}", uid()
    device = f"app-{uid()}"
    with_device = gave(2, user=both, email=f"b.{tag}@example.com", phone="+33 6 55 55 55 55", first_name="Bo")
    with_device.identifiers.device_id = device
    await send(
        front, key, with_device,
        gave(1, user=both, email=f"b2.{tag}@example.com", first_name="Bob"),
        gave(3, user=recycled, phone="+33 6 66 66 66 66"),
        gave(0.5, user=later, phone="+33 6 66 66 66 66"),  # someone else's now
    )  # fmt: skip
    person, other = await user_person(graph, both), await user_person(graph, recycled)
    await address_becomes(graph, await user_person(graph, later), SMS, "+33666666666")  # the recycling is known
    await address_becomes(graph, person, EMAIL, f"b2.{tag}@example.com")
    await address_becomes(graph, person, SMS, "+33655555555")

    answer = await graph.BatchGetContacts(pb.BatchGetContactsRequest(person_ids=[other, "p-never-seen", person]))

    assert [c.person_id for c in answer.contacts] == [other, "p-never-seen", person]
    first, unknown, last = answer.contacts
    assert (first.email, first.phone) == ("", ""), "the recycled number is someone else's now"
    assert unknown == pb.PersonContacts(person_id="p-never-seen")
    assert (last.email, last.phone, last.first_name) == (f"b2.{tag}@example.com", "+33655555555", "Bob")
    assert list(last.device_ids) == [device]
    for channel, address in ((EMAIL, last.email), (SMS, last.phone)):
        single = await contact(graph, person, channel)
        assert single is not None and single.address == address
    devices = await graph.BatchGetContacts(pb.BatchGetContactsRequest(person_ids=[person], devices_only=True))
    assert devices.contacts[0] == pb.PersonContacts(person_id=person, device_ids=[device])


async def test_a_batch_follows_a_merged_person_to_the_survivors_contacts(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, key: str
) -> None:
    user, phone_device, tag = f"u-{uid()}", f"device-{uid()}", uid()
    await send(front, key, gave(4, user=user, email=f"m.{tag}@example.com"))
    survivor = await user_person(graph, user)
    await send(front, key, gave(3, anon=phone_device, first_name="Guest"))
    merged = await person_of(graph, pb.IDENTIFIER_TYPE_ANONYMOUS_ID, phone_device)
    await send(front, key, logged_in(2, user=user, anon=phone_device))
    await address_becomes(graph, merged, EMAIL, f"m.{tag}@example.com")

    answer = await graph.BatchGetContacts(pb.BatchGetContactsRequest(person_ids=[merged, survivor]))

    assert [c.email for c in answer.contacts] == [f"m.{tag}@example.com"] * 2


async def test_a_batch_leaves_out_a_device_marked_shared(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, key: str
) -> None:
    """Mum logs in on her phone and on the family tablet, then her son on the tablet: the tablet
    is marked shared (issue 17), and a push to it could be read by either."""
    mum, son, phone, tablet = f"u-{uid()}", f"u-{uid()}", f"app-{uid()}", f"app-{uid()}"
    on_phone, on_tablet = logged_in(3, user=mum, anon=f"a-{uid()}"), logged_in(2, user=mum, anon=f"a-{uid()}")
    sons = logged_in(1, user=son, anon=f"a-{uid()}")
    on_phone.identifiers.device_id, on_tablet.identifiers.device_id, sons.identifiers.device_id = phone, tablet, tablet
    await send(front, key, on_phone, on_tablet)
    mums = await user_person(graph, mum)
    await eventually(lambda: _identity(graph, mums, tablet, shared=False))
    before = await graph.BatchGetContacts(pb.BatchGetContactsRequest(person_ids=[mums], devices_only=True))
    await send(front, key, sons)
    await eventually(lambda: _identity(graph, mums, tablet, shared=True))

    after = await graph.BatchGetContacts(pb.BatchGetContactsRequest(person_ids=[mums], devices_only=True))

    assert set(before.contacts[0].device_ids) == {phone, tablet}
    assert list(after.contacts[0].device_ids) == [phone]


async def _identity(graph: pb_grpc.IdentityServiceStub, person: str, value: str, *, shared: bool) -> bool | None:
    """True once the person's identities hold `value`, marked shared or not as asked."""
    reply = await graph.GetIdentities(pb.GetIdentitiesRequest(person_id=person), timeout=10)
    return True if any(i.identifier.value == value and i.shared == shared for i in reply.identities) else None


@pytest.mark.parametrize(
    ("person_ids", "fields"),
    [
        ([], {"person_ids"}),
        ([f"p-{n}" for n in range(501)], {"person_ids"}),
        (["p-1", "", "p-2", ""], {"person_ids[1]", "person_ids[3]"}),
        # Past the platform's input rules the request is refused before the service reads it.
        (["p-1", "", "p" * 300], {"person_ids[2]"}),
    ],
)
async def test_a_batch_names_the_bad_person_ids(
    graph: pb_grpc.IdentityServiceStub, person_ids: list[str], fields: set[str]
) -> None:
    error = await h.failure(graph.BatchGetContacts(pb.BatchGetContactsRequest(person_ids=person_ids)))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(h.field_violations(error)) == fields


# --- GetContact -----------------------------------------------------------------------------


async def test_the_newest_address_of_each_channel_is_returned_with_the_first_name(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, key: str
) -> None:
    user, tag = f"u-{uid()}", uid()
    await send(
        front,
        key,
        gave(3, user=user, email=f"Old.{tag}@Example.com", phone="+33 6 11 11 11 11", first_name="Ann"),
        gave(1, user=user, email=f" New.{tag}@example.com", first_name="Annie"),
    )
    person = await user_person(graph, user)
    await address_becomes(graph, person, EMAIL, f"new.{tag}@example.com")

    email, sms = await contact(graph, person, EMAIL), await contact(graph, person, SMS)
    assert email is not None and email.first_name == "Annie"
    assert abs(email.updated_at.ToDatetime() - (h.now() - timedelta(hours=1)).replace(tzinfo=None)) < timedelta(
        minutes=1
    )
    assert sms is not None and (sms.address, sms.first_name) == ("+33611111111", "Ann")


async def test_an_older_message_does_not_replace_a_newer_address(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, key: str
) -> None:
    user, tag = f"u-{uid()}", uid()
    await send(front, key, gave(1, user=user, email=f"now.{tag}@example.com"))
    person = await user_person(graph, user)
    await address_becomes(graph, person, EMAIL, f"now.{tag}@example.com")
    late = gave(5, user=user, email=f"then.{tag}@example.com")
    marker = gave(0, anon=f"marker-{uid()}", first_name="marker")
    await send(front, key, late, marker)
    await resolved_event(graph, marker)

    found = await contact(graph, person, EMAIL)
    assert found is not None and found.address == f"now.{tag}@example.com"


async def test_a_phone_number_given_later_by_someone_else_is_not_delivered(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, key: str
) -> None:
    first, second = f"u-{uid()}", f"u-{uid()}"
    await send(
        front,
        key,
        gave(5, user=first, phone="+33 6 22 22 22 22"),
        gave(4, user=first, phone="+33 6 33 33 33 33"),
        gave(1, user=second, phone="+33 6 33 33 33 33"),  # the number was recycled
    )
    second_person = await user_person(graph, second)
    await address_becomes(graph, second_person, SMS, "+33633333333")
    first_person = await user_person(graph, first)

    assert first_person != second_person
    found = await contact(graph, first_person, SMS)
    assert found is not None and found.address == "+33622222222"  # the person's older number


async def test_a_shared_address_leaves_nothing_deliverable_to_the_earlier_person(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, key: str
) -> None:
    first, second, tag = f"u-{uid()}", f"u-{uid()}", uid()
    await send(
        front,
        key,
        gave(3, user=first, email=f"family.{tag}@example.com"),
        gave(1, user=second, email=f"family.{tag}@example.com"),
    )
    second_person = await user_person(graph, second)
    await address_becomes(graph, second_person, EMAIL, f"family.{tag}@example.com")

    error = await h.failure(
        graph.GetContact(pb.GetContactRequest(person_id=await user_person(graph, first), channel=EMAIL))
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND and "no deliverable email address" in error.details()


async def test_what_a_device_gave_before_login_reaches_the_logged_in_person(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, key: str
) -> None:
    user, device, tag = f"u-{uid()}", f"device-{uid()}", uid()
    await send(front, key, gave(2, anon=device, email=f"guest.{tag}@example.com"), logged_in(1, user=user, anon=device))
    person = await user_person(graph, user)

    assert await address_becomes(graph, person, EMAIL, f"guest.{tag}@example.com")


async def test_a_merged_person_id_still_finds_the_survivors_contact(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, key: str
) -> None:
    user, laptop, phone, tag = f"u-{uid()}", f"device-{uid()}", f"device-{uid()}", uid()
    await send(front, key, gave(4, user=user, anon=laptop, email=f"merge.{tag}@example.com"))
    survivor = await user_person(graph, user)
    await send(front, key, gave(3, anon=phone, first_name="Guest"))
    merged = await person_of(graph, pb.IDENTIFIER_TYPE_ANONYMOUS_ID, phone)
    assert merged != survivor
    await send(front, key, logged_in(2, user=user, anon=phone))
    await person_of(graph, pb.IDENTIFIER_TYPE_ANONYMOUS_ID, phone)  # resolved; merged or linked

    assert await address_becomes(graph, merged, EMAIL, f"merge.{tag}@example.com")


async def test_after_shredding_the_persons_keys_no_contact_is_found(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, key: str, pool: asyncpg.Pool
) -> None:
    user, tag = f"u-{uid()}", uid()
    await send(front, key, gave(1, user=user, email=f"erase.{tag}@example.com", phone="+33 6 44 44 44 44"))
    person = await user_person(graph, user)
    await address_becomes(graph, person, EMAIL, f"erase.{tag}@example.com")
    async with pool.acquire() as conn:
        assert await ks.keyring(pool).shred(conn, [f"user:{user}"]) == 1

    for channel in (EMAIL, SMS):
        error = await h.failure(graph.GetContact(pb.GetContactRequest(person_id=person, channel=channel)))
        assert error.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("request_", "fields"),
    [
        (pb.GetContactRequest(channel=EMAIL), {"person_id"}),
        (pb.GetContactRequest(person_id="p-1"), {"channel"}),
        (pb.GetContactRequest(channel=7), {"person_id", "channel"}),
        # Past the platform's input rules the request is refused before the service reads it.
        (pb.GetContactRequest(person_id="p" * 300, channel=7), {"person_id"}),
    ],
)
async def test_get_contact_names_the_bad_fields(
    graph: pb_grpc.IdentityServiceStub, request_: pb.GetContactRequest, fields: set[str]
) -> None:
    error = await h.failure(graph.GetContact(request_))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(h.field_violations(error)) == fields


async def test_get_contact_of_an_unknown_person_is_not_found(graph: pb_grpc.IdentityServiceStub) -> None:
    error = await h.failure(graph.GetContact(pb.GetContactRequest(person_id="p-never-seen", channel=SMS)))

    assert error.code() == grpc.StatusCode.NOT_FOUND and "p-never-seen is unknown" in error.details()


# --- nothing readable outside the vault ----------------------------------------------------


async def test_no_table_no_resolved_record_and_no_log_line_holds_the_plaintext(
    graph: pb_grpc.IdentityServiceStub,
    front: ingestion_grpc.IngestionServiceStub,
    key: str,
    pg: asyncpg.Connection,
    nc: NATS,
    identity: ServiceProcess,
    ingestion: ServiceProcess,
) -> None:
    tag = uid()
    secrets = [f"scan.{tag}@example.com", "+33655512345", "655512345", f"Scanfirst{tag}", f"Scanlast{tag}"]
    user = f"u-{uid()}"
    await send(
        front,
        key,
        gave(2, user=user, email=f"Scan.{tag}@Example.com", phone="+33 6 55 51 23 45", first_name=f"Scanfirst{tag}"),
        h.event(
            signed_up=ev.SignedUp(personal=ev.PersonalData(email=f"scan.{tag}@example.com", last_name=f"Scanlast{tag}"))
        ),
    )
    person = await user_person(graph, user)
    await address_becomes(graph, person, SMS, "+33655512345")

    tables = await pg.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'identity'")
    assert {"data_keys", "contacts", "identifiers", "persons"} <= {t["tablename"] for t in tables}
    dump = "\n".join(
        [str(row[0]) for t in tables for row in await pg.fetch(f'SELECT t::text FROM identity."{t["tablename"]}" AS t')]
    ).lower()
    assert all(secret.lower() not in dump for secret in secrets)
    info = await nc.jetstream().stream_info(RESOLVED)
    blob = b"".join(
        [
            (m.data or b"") + repr(m.headers).encode()
            for m in [
                await nc.jetstream().get_msg(RESOLVED, s) for s in range(info.state.first_seq, info.state.last_seq + 1)
            ]
        ]
    ).lower()
    assert blob and all(secret.lower().encode() not in blob for secret in secrets)
    logs = (identity.log_path.read_text() + ingestion.log_path.read_text()).lower()
    assert logs and all(secret.lower() not in logs for secret in secrets)
