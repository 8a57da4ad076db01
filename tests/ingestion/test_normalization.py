"""What is stored is normalized: masked IPs, canonical emails and phones (sealed, so they are
read here with the subject's data key), the key's source; and personal data never reaches
the service's log."""

from __future__ import annotations

import uuid

from bullseye.events.v1 import event_pb2 as ev
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from bullseye_devtools.stack.services import ServiceProcess
from nats.aio.client import Client as NATS

from tests.ingestion import helpers as h


async def stored_copy(api: pb_grpc.IngestionServiceStub, key: str, nc: NATS, sent: ev.Event) -> ev.Event:
    outcome = await h.track(api, key, sent)
    assert outcome.status == pb.EVENT_STATUS_ACCEPTED
    return (await h.stored_at(nc, outcome.stream_sequence)).event


def with_ip(ip: str) -> ev.Event:
    sent = h.event()
    sent.context.ip = ip
    return sent


def personal(kind: str, *, email: str = "", phone: str = "", locale: str = "", country: str = "") -> ev.Event:
    data = ev.PersonalData(email=email, phone=phone)
    payload = ev.Identified(personal=data, traits=ev.Traits(country=country)) if kind == "identified" else None
    sent = h.event(**{kind: payload or ev.SignedUp(method="email", personal=data)})
    sent.context.locale = locale
    return sent


async def test_ipv4_is_stored_with_its_last_octet_zeroed(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS
) -> None:
    stored = await stored_copy(api, write_key, nc, with_ip("203.0.113.57"))

    assert stored.context.ip == "203.0.113.0"


async def test_ipv6_is_stored_masked_to_its_48_bit_prefix(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS
) -> None:
    stored = await stored_copy(api, write_key, nc, with_ip("2001:db8:abcd:12:1:2:3:4"))

    assert stored.context.ip == "2001:db8:abcd::"


async def test_email_is_stored_trimmed_and_lower_cased(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, identity: ServiceProcess
) -> None:
    stored = await stored_copy(api, write_key, nc, personal("identified", email="  Jane.Doe+Shop@Example.COM "))

    assert (await h.opened_personal(identity.address, stored)).email == "jane.doe+shop@example.com"


async def test_national_phone_with_locale_fr_fr_is_stored_in_e164(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, identity: ServiceProcess
) -> None:
    stored = await stored_copy(api, write_key, nc, personal("signed_up", phone="06 12 34 56 78", locale="fr-FR"))

    assert (await h.opened_personal(identity.address, stored)).phone == "+33612345678"


async def test_traits_country_decides_the_region_of_a_national_phone(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, identity: ServiceProcess
) -> None:
    sent = personal("identified", phone="07400 123456", locale="fr-FR", country="GB")
    stored = await stored_copy(api, write_key, nc, sent)

    assert (await h.opened_personal(identity.address, stored)).phone == "+447400123456"


async def test_international_phone_is_kept_in_e164_whatever_the_locale(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, identity: ServiceProcess
) -> None:
    sent = personal("signed_up", phone="+1 (415) 555-2671", locale="fr-FR")
    stored = await stored_copy(api, write_key, nc, sent)

    assert (await h.opened_personal(identity.address, stored)).phone == "+14155552671"


async def test_receipt_names_the_keys_source_and_the_time_of_arrival(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS
) -> None:
    sent = h.event()
    sent.receipt.source = "forged-by-the-client"
    stored = await stored_copy(api, write_key, nc, sent)

    assert stored.receipt.source == "test_normalization"
    assert stored.receipt.HasField("received_at")


async def test_fields_that_need_no_normalization_are_stored_as_sent(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS
) -> None:
    sent = h.event()
    sent.context.CopyFrom(ev.Context(channel=ev.CHANNEL_APP, locale="fr-FR", timezone="Europe/Paris"))
    sent.context.page.url = "https://shop.example/p/1?utm_source=x"
    stored = await stored_copy(api, write_key, nc, sent)

    assert h.without_receipt(stored) == sent


async def test_service_log_never_contains_personal_data(
    api: pb_grpc.IngestionServiceStub, write_key: str, nc: NATS, ingestion: ServiceProcess
) -> None:
    tag = uuid.uuid4().hex[:10]
    email, phone, ip = f"Log.Probe.{tag}@Example.com", "06 98 76 54 32", "192.0.2.213"
    good = personal("signed_up", email=email, phone=phone, locale="fr-FR")
    good.context.ip = ip
    bad = personal("identified", email=f"not-an-email-{tag}", phone="+33 1")
    bad.context.locale = "not a locale"  # rejected: a bad email or phone alone is dropped, the event kept
    await h.batch(api, write_key, [good, bad])
    await h.failure(h.track(api, write_key, bad))

    text = ingestion.log_path.read_text()
    assert "IngestionService/TrackBatch" in text and "IngestionService/Track" in text
    for secret in (email, email.lower(), f"not-an-email-{tag}", phone, "+33698765432", "698765432", ip):
        assert secret not in text
