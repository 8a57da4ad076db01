"""IssueDataKeys, the data keys that seal personal data: validated, stable per subject,
durable, only for the service granted `datakeys:issue` (ingestion), and shreddable."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess
from bullseye_platform.crypto import SealError
from bullseye_platform.sealing import seal_personal, sealed_of
from nats.aio.client import Client as NATS

from tests.identity import keys_support as ks
from tests.ingestion import helpers as h


def subject() -> str:
    return f"user:u-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
async def own(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceProcess]:
    """An identity of its own, which a test restarts."""
    env = ks.isolated_env(nats_server, postgres)
    service = await ks.start_identity(nc, env, tmp_path_factory.mktemp("own"))
    yield service
    service.stop()


@pytest.fixture
async def pool(postgres: PostgresServer, identity: ServiceProcess) -> AsyncIterator[asyncpg.Pool]:
    opened = await ks.keyring_pool(postgres)
    yield opened
    await opened.close()


# --- validation ----------------------------------------------------------------------------


async def test_bad_subjects_are_named_by_index(identity: ServiceProcess) -> None:
    subjects = [subject(), "", "user:", "bob", "anon:" + "x" * 257, "anon:device-1", "user:" + "y" * 256]
    error = await h.failure(ks.issue(identity.address, subjects))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = h.field_violations(error)
    assert set(violations) == {"subjects[1]", "subjects[2]", "subjects[3]", "subjects[4]"}
    assert '"user:<user_id>", "anon:<anonymous_id>", "loyalty:<loyalty_id>"' in violations["subjects[3]"]


@pytest.mark.parametrize(("count", "says"), [(0, "at least one"), (1001, "at most 1000")])
async def test_no_subjects_or_too_many_are_refused(identity: ServiceProcess, count: int, says: str) -> None:
    error = await h.failure(ks.issue(identity.address, [subject() for _ in range(count)]))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert says in h.field_violations(error)["subjects"]


# --- what is issued --------------------------------------------------------------------------


async def test_keys_come_back_in_request_order_one_per_subject(identity: ServiceProcess) -> None:
    subjects = [subject(), "anon:" + uuid.uuid4().hex, subject()]
    keys = await ks.issue(identity.address, [*subjects, subjects[0]])

    assert [k.subject for k in keys] == [*subjects, subjects[0]]
    assert all(len(k.secret) == 32 for k in keys)
    assert len({k.key_id for k in keys[:3]}) == 3 and len({k.secret for k in keys[:3]}) == 3
    assert keys[3] == keys[0]


async def test_the_same_subject_always_gets_the_same_key(identity: ServiceProcess) -> None:
    one = subject()
    first = await ks.issue(identity.address, [one])
    again = await ks.issue(identity.address, [subject(), one])

    assert again[1] == first[0]


async def test_concurrent_first_requests_for_a_subject_agree_on_one_key(identity: ServiceProcess) -> None:
    one = subject()
    answers = await asyncio.gather(*(ks.issue(identity.address, [one, subject()]) for _ in range(8)))

    assert len({a[0].key_id for a in answers}) == 1


async def test_keys_are_stored_wrapped_never_in_the_clear(identity: ServiceProcess, pool: asyncpg.Pool) -> None:
    issued = (await ks.issue(identity.address, [subject()]))[0]
    row = await pool.fetchrow("SELECT * FROM data_keys WHERE key_id = $1", issued.key_id)

    assert row is not None and row["subject"] == issued.subject
    assert issued.secret not in b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row.values())


# --- durability and protection -------------------------------------------------------------


async def test_a_key_survives_a_restart_of_identity(own: ServiceProcess) -> None:
    one = subject()
    before = await ks.issue(own.address, [one])
    own.stop()
    own.start()

    assert await ks.issue(own.address, [one]) == before


async def test_a_service_not_granted_datakeys_issue_gets_no_key(identity: ServiceProcess) -> None:
    error = await h.failure(ks.issue(identity.address, [subject()], caller="profile"))

    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "'datakeys:issue'" in error.details() and "'profile'" in error.details()


async def test_a_caller_without_credentials_gets_no_key(identity: ServiceProcess) -> None:
    error = await h.failure(ks.issue(identity.address, [subject()], caller=None))

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


# --- crypto-shredding ------------------------------------------------------------------------


def sealed_event() -> ev.Event:
    return h.event(identified=ev.Identified(personal=ev.PersonalData(email="shred.me@example.com", first_name="Ann")))


async def test_shredded_key_leaves_sealed_data_unreadable_and_a_new_key_for_what_follows(
    identity: ServiceProcess, pool: asyncpg.Pool
) -> None:
    one = subject()
    old = (await ks.issue(identity.address, [one]))[0]
    event = sealed_event()
    seal_personal(event, ks.data_key(old))
    sealed = sealed_of(event)
    assert sealed is not None
    ring = ks.keyring(pool)
    async with pool.acquire() as conn:
        opened = await ring.open_personal(conn, sealed, event.event_id)
        assert opened is not None and opened.email == "shred.me@example.com"

        assert await ring.shred(conn, [one]) == 1
        assert await ring.open_personal(conn, sealed, event.event_id) is None
        assert await ring.shred(conn, [one]) == 0
    new = (await ks.issue(identity.address, [one]))[0]

    assert new.key_id != old.key_id and new.secret != old.secret
    async with pool.acquire() as conn:
        assert await ring.open_personal(conn, sealed, event.event_id) is None


async def test_tampered_sealed_data_raises_rather_than_reading_as_shredded(
    identity: ServiceProcess, pool: asyncpg.Pool
) -> None:
    issued = (await ks.issue(identity.address, [subject()]))[0]
    event = sealed_event()
    seal_personal(event, ks.data_key(issued))
    sealed = sealed_of(event)
    assert sealed is not None
    ring = ks.keyring(pool)
    async with pool.acquire() as conn:
        with pytest.raises(SealError):
            await ring.open_personal(conn, sealed, "another-event-id")
        sealed.ciphertext = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
        with pytest.raises(SealError):
            await ring.open_personal(conn, sealed, event.event_id)


def test_keyed_hashes_match_normalized_values_without_revealing_them(pool: asyncpg.Pool) -> None:
    ring = ks.keyring(pool)
    one = ring.hash_identifier("email", "jane@example.com")

    assert one == ring.hash_identifier("email", "jane@example.com")
    assert one != ring.hash_identifier("phone", "jane@example.com") and "jane" not in one
