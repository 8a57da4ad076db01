"""Lenient fields, strict events: an email or phone nobody can read is dropped from the event
with a warning in its outcome, and the event is kept (issue 17); any other violation still
rejects the whole event, and its outcome names every problem."""

from __future__ import annotations

import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.ingestion.v1 import ingestion_pb2 as pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as pb_grpc
from bullseye_devtools.stack.services import ServiceProcess
from nats.aio.client import Client as NATS

from tests.ingestion import helpers as h

GOOD_EMAIL, GOOD_PHONE = "ann@example.com", "+33612345678"


def contact(kind: str, **personal: str) -> ev.Event:
    data = ev.PersonalData(first_name="Ann", **personal)
    return h.event(**{kind: ev.Identified(personal=data) if kind == "identified" else ev.SignedUp(personal=data)})


UNREADABLE = {
    "national_phone_without_a_region": ("identified", {"phone": "06 12 34 56 78", "email": GOOD_EMAIL}, "phone"),
    "phone_too_short": ("signed_up", {"phone": "+33 12", "email": GOOD_EMAIL}, "phone"),
    "template_marker_email": ("identified", {"email": "{{email}}", "phone": GOOD_PHONE}, "email"),
    "not_an_email": ("signed_up", {"email": "not-an-email", "phone": GOOD_PHONE}, "email"),
    # The input rules refuse a NUL anywhere; in these fields it is dropped like any unreadable address.
    "nul_in_an_email": ("identified", {"email": "ann\x00@example.com", "phone": GOOD_PHONE}, "email"),
}


@pytest.mark.parametrize(("kind", "personal", "dropped"), UNREADABLE.values(), ids=UNREADABLE.keys())
async def test_an_unreadable_email_or_phone_is_dropped_with_a_warning_and_the_event_kept(
    kind: str, personal: dict[str, str], dropped: str, api: pb_grpc.IngestionServiceStub, write_key: str,
    nc: NATS, identity: ServiceProcess,
) -> None:  # fmt: skip
    sent = contact(kind, **personal)
    outcome = await h.track(api, write_key, sent)

    assert outcome.status == pb.EVENT_STATUS_ACCEPTED and not outcome.violations
    [warning] = outcome.warnings
    assert warning.field == f"{kind}.personal.{dropped}" and warning.description
    opened = await h.opened_personal(identity.address, (await h.stored_at(nc, outcome.stream_sequence)).event)
    kept = {"email": GOOD_EMAIL, "phone": GOOD_PHONE, dropped: ""}
    assert (opened.email, opened.phone, opened.first_name) == (kept["email"], kept["phone"], "Ann")


async def test_any_other_violation_rejects_the_event_and_its_outcome_names_every_problem(
    api: pb_grpc.IngestionServiceStub, write_key: str
) -> None:
    sent = contact("identified", email="{{email}}", phone="06 12")
    sent.context.ip = "not an address"
    result = await h.batch(api, write_key, [sent, contact("identified", email="{{email}}")])

    rejected, kept = result.outcomes
    assert rejected.status == pb.EVENT_STATUS_REJECTED
    assert set(h.violations_of(rejected)) == {"context.ip", "identified.personal.email", "identified.personal.phone"}
    assert kept.status == pb.EVENT_STATUS_ACCEPTED and [w.field for w in kept.warnings] == ["identified.personal.email"]
    assert (result.accepted, result.rejected) == (1, 1)
