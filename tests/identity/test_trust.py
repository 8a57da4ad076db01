"""What a source's trust lets its events claim (README, "Trust").

An ingestion key that ships inside an app or a web page is anyone's key. Before trust
levels, an identify event giving someone's email under another user id made that address
undeliverable to its owner (the shared-mailbox rule). Now only a verified source's claim
takes an address from someone else; an unverified one reaches its own subject only.
"""

from __future__ import annotations

import pytest
from bullseye.identity.v1 import identity_pb2 as pb
from bullseye.identity.v1 import identity_pb2_grpc as pb_grpc
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ingestion_grpc

from tests.conftest import create_key
from tests.identity.test_vault import EMAIL, SMS, address_becomes, contact, gave, resolved_event, send, uid, user_person


@pytest.fixture(scope="module")
def app_key(ingestion_env: dict[str, str]) -> str:
    """A key embedded in a shop's app: anyone can read it out and send with it."""
    return create_key(ingestion_env, "--source", "shop-app")


@pytest.fixture(scope="module")
def crm_key(ingestion_env: dict[str, str]) -> str:
    """The CRM's key: it sends only addresses their owners confirmed."""
    return create_key(ingestion_env, "--source", "crm", "--trust", "verified")


async def test_an_unverified_source_cannot_take_a_verified_address_from_its_owner(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, app_key: str, crm_key: str
) -> None:
    owner, attacker, tag = f"u-{uid()}", f"u-{uid()}", uid()
    await send(front, crm_key, gave(3, user=owner, email=f"owner.{tag}@example.com"))
    await send(front, app_key, gave(1, user=attacker, email=f"owner.{tag}@example.com"))
    marker = gave(0, anon=f"marker-{uid()}", first_name="marker")
    await send(front, app_key, marker)
    await resolved_event(graph, marker)

    found = await contact(graph, await user_person(graph, owner), EMAIL)
    assert found is not None and found.address == f"owner.{tag}@example.com"
    # Nor does the attacker's person get the owner's address to send to.
    assert await contact(graph, await user_person(graph, attacker), EMAIL) is None


async def test_an_unverified_source_cannot_take_an_unverified_address_either(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, app_key: str
) -> None:
    owner, other, tag = f"u-{uid()}", f"u-{uid()}", uid()
    await send(
        front, app_key, gave(3, user=owner, phone="+33 6 77 77 77 77"), gave(2, user=owner, email=f"o.{tag}@x.io")
    )
    await send(front, app_key, gave(1, user=other, email=f"o.{tag}@x.io"))
    other_person = await user_person(graph, other)
    await address_becomes(graph, other_person, EMAIL, f"o.{tag}@x.io")  # its own claim reaches its own subject

    found = await contact(graph, await user_person(graph, owner), EMAIL)
    assert found is not None and found.address == f"o.{tag}@x.io"


async def test_a_verified_source_given_later_moves_a_recycled_number_to_its_new_owner(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, app_key: str, crm_key: str
) -> None:
    before, after = f"u-{uid()}", f"u-{uid()}"
    number = f"+3362{uid()[:7].translate(str.maketrans('abcdef', '123456'))}"
    await send(front, app_key, gave(5, user=before, phone=number))
    await send(front, crm_key, gave(1, user=after, phone=number))
    await address_becomes(graph, await user_person(graph, after), SMS, number)

    assert await contact(graph, await user_person(graph, before), SMS) is None


async def test_the_identifiers_an_unverified_source_gives_still_identify(
    graph: pb_grpc.IdentityServiceStub, front: ingestion_grpc.IngestionServiceStub, app_key: str
) -> None:
    """Trust limits what a claim takes from others, not who the event is about: a shopper who
    types their email on a new phone is recognised."""
    user, tag = f"u-{uid()}", uid()
    await send(front, app_key, gave(2, user=user, email=f"me.{tag}@example.com"))
    await send(front, app_key, gave(1, anon=f"new-phone-{uid()}", email=f"me.{tag}@example.com"))
    person = await user_person(graph, user)

    ref = pb.IdentifierRef(type=pb.IDENTIFIER_TYPE_EMAIL, value=f"me.{tag}@example.com")
    assert (await graph.Resolve(pb.ResolveRequest(identifiers=[ref]))).person_id == person
