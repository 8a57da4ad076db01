"""Personal data never reaches the log in the clear: ingestion seals it with the subject's
data key from identity, and stores nothing of a request whose key it cannot get."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess
from bullseye_platform import sealing
from google.rpc import error_details_pb2
from nats.aio.client import Client as NATS

from tests import channels
from tests.conftest import create_key
from tests.identity import keys_support as ks
from tests.ingestion import helpers as h

T = TypeVar("T")


def person(tag: str) -> ev.PersonalData:
    """Personal data unique to one test, as a client sends it (not yet normalized)."""
    return ev.PersonalData(
        email=f" Probe.{tag}@Example.com ",
        phone="+33 6 12 34 56 78",
        first_name=f"Firstname{tag}",
        last_name=f"Last{tag}",
    )


def secrets_of(sent: ev.PersonalData) -> list[bytes]:
    """Every form the personal data could take in a message: as sent and normalized."""
    forms = [sent.email.strip(), sent.email.strip().lower(), sent.first_name, sent.last_name, "612345678"]
    return [f.encode() for f in forms] + [f.lower().encode() for f in forms]


def identified(data: ev.PersonalData, *, user_id: str = "", anonymous_id: str | None = "anon-1") -> ev.Event:
    sent = h.event(identified=ev.Identified(traits=ev.Traits(country="FR"), personal=data), anonymous_id=anonymous_id)
    sent.identifiers.user_id = user_id
    return sent


async def test_identified_event_is_stored_sealed_with_its_users_key(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, identity: ServiceProcess
) -> None:
    tag, user = uuid.uuid4().hex[:8], f"u-{uuid.uuid4().hex[:8]}"
    outcome = await h.track(api, write_key, identified(person(tag), user_id=user))
    stored = (await h.stored_at(nc, outcome.stream_sequence)).event

    assert not stored.identified.HasField("personal")
    assert stored.identified.traits.country == "FR"
    key = await h.data_key(identity.address, f"user:{user}")
    assert stored.identified.sealed_personal.key_id == key.key_id
    opened = sealing.open_personal(stored.identified.sealed_personal, key, stored.event_id)
    assert opened == ev.PersonalData(
        email=f"probe.{tag}@example.com", phone="+33612345678", first_name=f"Firstname{tag}", last_name=f"Last{tag}"
    )


async def test_an_anonymous_shoppers_data_is_sealed_with_the_devices_key(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, identity: ServiceProcess
) -> None:
    device = f"anon-{uuid.uuid4().hex[:8]}"
    sent = h.event(signed_up=ev.SignedUp(method="email", personal=person("anon")), anonymous_id=device)
    outcome = await h.track(api, write_key, sent)
    stored = (await h.stored_at(nc, outcome.stream_sequence)).event

    key = await h.data_key(identity.address, f"anon:{device}")
    assert stored.signed_up.sealed_personal.key_id == key.key_id
    assert (await h.opened_personal(identity.address, stored)).first_name == "Firstnameanon"


async def test_the_longest_user_id_ingestion_accepts_gets_a_key(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, identity: ServiceProcess
) -> None:
    user = uuid.uuid4().hex + "u" * 224  # 256 characters, the most an identifier may have
    outcome = await h.track(api, write_key, identified(person("long"), user_id=user))
    stored = (await h.stored_at(nc, outcome.stream_sequence)).event

    assert (await h.opened_personal(identity.address, stored)).last_name == "Lastlong"


async def test_the_raw_stream_never_holds_the_plaintext(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, mark: int
) -> None:
    people = [person(uuid.uuid4().hex[:8]) for _ in range(6)]
    events = [identified(p, user_id=f"u-{i}-{uuid.uuid4().hex[:6]}") for i, p in enumerate(people[:3])]
    events += [h.event(signed_up=ev.SignedUp(personal=p), anonymous_id=uuid.uuid4().hex) for p in people[3:]]
    result = await h.batch(api, write_key, events)
    assert result.accepted == 6

    end = await h.last_seq(nc)
    raw = [await nc.jetstream().get_msg(h.STREAM, seq) for seq in range(mark + 1, end + 1)]
    blob = b"".join((m.data or b"") + repr(m.headers).encode() for m in raw)
    assert blob and all(secret not in blob for p in people for secret in secrets_of(p))


async def test_sealed_personal_sent_by_a_client_is_dropped(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, identity: ServiceProcess
) -> None:
    forged = ev.SealedData(key_id="dk_forged", nonce=b"n" * 12, ciphertext=b"forged")
    only_forged = h.event(identified=ev.Identified(traits=ev.Traits(city="Lyon"), sealed_personal=forged))
    both = identified(person("both"))
    both.identified.sealed_personal.CopyFrom(forged)
    result = await h.batch(api, write_key, [only_forged, both])
    first, second = [(await h.stored_at(nc, o.stream_sequence)).event for o in result.outcomes]

    assert not first.identified.HasField("sealed_personal") and first.identified.traits.city == "Lyon"
    assert second.identified.sealed_personal.key_id != "dk_forged"
    assert (await h.opened_personal(identity.address, second)).last_name == "Lastboth"


async def retrying(call: Callable[[], Awaitable[T]], attempts: int = 20) -> T:
    """What a client does with UNAVAILABLE: wait as RetryInfo says, send the same request again."""
    for _ in range(attempts - 1):
        try:
            return await call()
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            await asyncio.sleep(h.detail(exc, error_details_pb2.RetryInfo).retry_delay.ToTimedelta().total_seconds())
    return await call()


# --- identity down ------------------------------------------------------------------------


class Pair:
    """An identity and an ingestion of their own, so this module can stop identity."""

    def __init__(self, env: dict[str, str], identity: ServiceProcess, ingestion: ServiceProcess, key: str) -> None:
        self.env, self.identity, self.ingestion, self.key = env, identity, ingestion, key

    async def stored(self, nc: NATS, event_id: str) -> list[ev.Event]:
        stream = self.env["INGESTION_STREAM"]
        end = int((await nc.jetstream().stream_info(stream)).state.last_seq)
        found = [ev.Event.FromString((await nc.jetstream().get_msg(stream, s)).data or b"") for s in range(1, end + 1)]
        return [e for e in found if e.event_id == event_id]


@pytest.fixture(scope="module")
async def pair(
    nats_server: NatsServer, postgres: PostgresServer, nc: NATS, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Pair]:
    logs: Path = tmp_path_factory.mktemp("sealing-pair")
    identity = await ks.start_identity(nc, ks.isolated_env(nats_server, postgres), logs)
    env = {**identity.env, "INGESTION_IDENTITY_ADDRESS": identity.address}
    ingestion = ServiceProcess("ingestion", "bullseye_ingestion", env, logs).start()
    yield Pair(env, identity, ingestion, create_key(env, "--source", "sealing"))
    ingestion.stop()
    identity.stop()


async def test_with_identity_down_personal_data_is_refused_whole_and_retry_is_safe(pair: Pair, nc: NATS) -> None:
    cached_user, new_user = f"u-{uuid.uuid4().hex[:8]}", f"u-{uuid.uuid4().hex[:8]}"
    async with channels.channel(pair.ingestion.address, caller=None) as channel:
        api = h.stub(channel)
        assert (await h.track(api, pair.key, identified(person("a"), user_id=cached_user))).status == (
            pb.EVENT_STATUS_ACCEPTED
        )
        pair.identity.stop()
        try:
            # A subject whose key ingestion holds needs no call to identity.
            again = await h.track(api, pair.key, identified(person("b"), user_id=cached_user))
            assert again.status == pb.EVENT_STATUS_ACCEPTED
            # A new subject needs identity: the whole request fails before anything is stored.
            page_view, needs_key = h.event(), identified(person("c"), user_id=new_user)
            error = await h.failure(h.batch(api, pair.key, [page_view, needs_key]))
            assert error.code() == grpc.StatusCode.UNAVAILABLE
            assert h.reason(error) == "KEY_SERVICE_UNAVAILABLE"
            assert h.detail(error, error_details_pb2.RetryInfo).retry_delay.seconds >= 1
            assert await pair.stored(nc, page_view.event_id) == [] and await pair.stored(nc, needs_key.event_id) == []
            # Events without personal data do not depend on identity.
            assert (await h.track(api, pair.key, h.event())).status == pb.EVENT_STATUS_ACCEPTED
        finally:
            pair.identity.start()
        retried = await retrying(lambda: h.batch(api, pair.key, [page_view, needs_key]))

    assert retried.accepted == 2
    stored = await pair.stored(nc, needs_key.event_id)
    assert len(stored) == 1 and (await h.opened_personal(pair.identity.address, stored[0])).last_name == "Lastc"
