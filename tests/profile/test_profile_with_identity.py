"""End to end with the real identity service: ingestion -> EVENTS -> identity -> RESOLVED ->
profile, and GetProfile by identifier through identity's Resolve."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as id_pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ipb_grpc
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye_devtools.stack.services import ServiceProcess

from tests import channels
from tests.conftest import create_key
from tests.identity.graph_support import event, send, uid
from tests.ingestion.helpers import failure
from tests.platform.waiting import wait_until
from tests.profile.support import ProfileUnderTest, usd


@pytest.fixture(scope="module")
def profile(profile_on_identity: ProfileUnderTest) -> ProfileUnderTest:
    return profile_on_identity


@pytest.fixture(scope="module")
async def front(ingestion: ServiceProcess) -> AsyncIterator[ipb_grpc.IngestionServiceStub]:
    async with channels.channel(ingestion.address, caller=None) as channel:  # API keys per call
        yield ipb_grpc.IngestionServiceStub(channel)


async def test_events_sent_to_ingestion_reach_the_profile_found_by_identifier(
    profile: ProfileUnderTest, front: ipb_grpc.IngestionServiceStub, ingestion_env: dict[str, str]
) -> None:
    key = create_key(ingestion_env, "--source", "profile-e2e")
    user = uid("user")
    item = ev.LineItem(product_id="sku-1", quantity=1, unit_price=usd(12.5), category="books")
    bought = ev.OrderCompleted(order_id="o-1", items=[item], revenue=usd(12.5))
    await send(front, key, [event(user=user, minutes_ago=2), event(user=user, minutes_ago=1, order_completed=bought)])
    by_user = pb.GetProfileRequest(identifier=id_pb.IdentifierRef(type=id_pb.IDENTIFIER_TYPE_USER_ID, value=user))

    async def profiled() -> bool:
        try:
            found = (await profile.api.GetProfile(by_user)).profile
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND, exc
            return False
        return found.behaviour.counts_lifetime.total == 2

    await wait_until(profiled, within=60, every=0.1)
    found = (await profile.api.GetProfile(by_user)).profile
    assert (found.value.orders, found.value.revenue) == (1, 12.5)
    by_id = await profile.get(found.person_id)
    assert by_id.behaviour.counts_lifetime == found.behaviour.counts_lifetime


async def test_an_identifier_nobody_has_is_not_found(profile: ProfileUnderTest) -> None:
    ref = id_pb.IdentifierRef(type=id_pb.IDENTIFIER_TYPE_USER_ID, value=uid("nobody"))

    error = await failure(profile.api.GetProfile(pb.GetProfileRequest(identifier=ref)))

    assert error.code() == grpc.StatusCode.NOT_FOUND
