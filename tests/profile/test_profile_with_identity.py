"""End to end with the real identity service: ingestion -> EVENTS -> identity -> RESOLVED ->
profile, and GetProfile by identifier through identity's Resolve."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable

import grpc
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as id_pb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ipb_grpc
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye.profile.v1 import segments_pb2 as sg
from bullseye_devtools.stack.services import ServiceProcess

from tests import channels
from tests.conftest import create_key
from tests.identity.graph_support import event, send, uid
from tests.ingestion.helpers import failure
from tests.platform.waiting import wait_until
from tests.profile.support import ProfileUnderTest, usd
from tests.profile.test_segment_membership import create, new_id, ready
from tests.profile.test_segment_rules import compare


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


def bought(order_id: str, amount: float) -> ev.OrderCompleted:
    item = ev.LineItem(product_id="sku-1", quantity=1, unit_price=usd(amount), category="books")
    return ev.OrderCompleted(order_id=order_id, items=[item], revenue=usd(amount))


async def test_an_automatic_split_moves_the_next_members_order_to_them_once_and_segments_follow(
    profile: ProfileUnderTest, front: ipb_grpc.IngestionServiceStub, ingestion_env: dict[str, str]
) -> None:
    """A family app's device id gives the son's logged-out order to his mother; his login
    takes it back (identity's healing split), and profile follows the PersonSplit fact."""
    key = create_key(ingestion_env, "--source", "profile-healing")
    segment = await create(profile, new_id("two-orders"), compare("value.orders", sg.OPERATOR_GE, 2))
    await ready(profile, segment.segment_id)
    tablet, mums_app, sons_app, mum, son = uid("device"), uid("anon"), uid("anon"), uid("user"), uid("user")
    mums = [
        event(anon=mums_app, device=tablet, user=mum, minutes_ago=9, logged_in=ev.LoggedIn()),
        event(anon=mums_app, device=tablet, user=mum, minutes_ago=8, order_completed=bought(uid("o"), 50)),
    ]
    sons = [
        event(anon=sons_app, device=tablet, minutes_ago=6),
        event(anon=sons_app, device=tablet, minutes_ago=5, order_completed=bought(uid("o"), 20)),
    ]
    by_user = {who: pb.GetProfileRequest(identifier=id_pb.IdentifierRef(type=id_pb.IDENTIFIER_TYPE_USER_ID, value=who))
               for who in (mum, son)}  # fmt: skip

    async def orders(who: str) -> tuple[int, float, int]:
        try:
            found = (await profile.api.GetProfile(by_user[who])).profile
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND, exc
            return (0, 0.0, 0)
        return found.value.orders, found.value.revenue, found.behaviour.counts_lifetime.total

    await send(front, key, [*mums, *sons])
    await wait_until(lambda: _is(orders(mum), (2, 70.0, 4)), within=60, every=0.1)
    mums_person = (await profile.api.GetProfile(by_user[mum])).profile.person_id
    member = sg.IsMemberRequest(segment_id=segment.segment_id, person_id=mums_person)
    await wait_until(lambda: _member(profile, member, True), within=60, every=0.1)

    await send(front, key, [event(anon=sons_app, device=tablet, user=son, minutes_ago=4, logged_in=ev.LoggedIn())])
    await wait_until(lambda: _is(orders(son), (1, 20.0, 3)), within=60, every=0.1)
    assert await orders(mum) == (1, 50.0, 2), "the son's browsing and order left her profile, counted once"
    await wait_until(lambda: _member(profile, member, False), within=60, every=0.1)


async def _is(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


async def _member(profile: ProfileUnderTest, request: sg.IsMemberRequest, expected: bool) -> bool:
    return bool((await profile.api.IsMember(request)).member) == expected
