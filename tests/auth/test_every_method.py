"""Every method of every service, found in the protos' descriptors (a new method or service is
covered without touching this file), refuses a caller without credentials, with a wrong one,
and with one that lacks the method's scope; and admits one that has it.

The requests are empty: the guard decides before a request is read, so what a method would
say about its input never shows here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import grpc
import pytest
from bullseye_devtools.scopes import services
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess
from bullseye_platform.auth import Grants, SigningKey, TokenMinter
from bullseye_platform.auth.scopes import scope_of
from google.protobuf.descriptor import MethodDescriptor
from nats.aio.client import Client as NATS

from tests import channels
from tests.api.contract import servable, served_methods
from tests.campaign.stack import campaign_env
from tests.conftest import create_key
from tests.platform.test_auth import claims, operator_key, signed, tampered
from tests.profile.support import start_profile, stop_profile
from tests.recommendation.support import start_recommendation, stop_recommendation

# The session's principals that are services.
SERVICES = ("ingestion", "identity", "profile", "campaign", "recommendation")


# Every method declares a scope; those of a service with a process are called (tests/api
# pins which services have none yet, so one cannot drop out of these tests unnoticed).
METHODS = served_methods()
IDS = [method.full_name for method in METHODS]


@pytest.fixture(scope="module")
def revoked_key(ingestion_env: dict[str, str], ingestion: ServiceProcess) -> str:
    """A key revoked before its first use, so no process has it cached as valid."""
    key = create_key(ingestion_env, "--source", "revoked-everywhere")
    argv = [sys.executable, "-m", "bullseye_ingestion", "keys", "revoke", key.split("_")[1]]
    subprocess.run(argv, env={**os.environ, **ingestion_env}, check=True, capture_output=True)
    return key


@pytest.fixture(scope="module")
async def addresses(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path,
    identity: ServiceProcess, ingestion: ServiceProcess,
) -> AsyncIterator[dict[str, str]]:  # fmt: skip
    """Where each service of the protos runs in this session."""
    profile = await start_profile(nc, nats_server, postgres, stack_dir / "logs")
    env = campaign_env(nats_server, postgres, identity=identity, profile=profile, schema="campaign_auth", tag="auth")
    campaign = ServiceProcess("campaign", "bullseye_campaign", env, stack_dir / "logs" / "campaign-auth").start()
    recommendation = await start_recommendation(nc, nats_server, postgres, stack_dir / "auth-recommendation")
    yield {
        "bullseye.ingestion.v1.IngestionService": ingestion.address,
        "bullseye.identity.v1.IdentityService": identity.address,
        "bullseye.profile.v1.ProfileService": profile.service.address,
        "bullseye.campaign.v1.CampaignService": campaign.address,
        "bullseye.recommendation.v1.RecommendationService": recommendation.service.address,
    }
    campaign.stop()
    await stop_recommendation(recommendation)
    await stop_profile(profile)


def test_every_service_with_a_process_is_served_in_this_test(addresses: dict[str, str]) -> None:
    assert {service.full_name for service in services() if servable(service)} == set(addresses)


def test_every_method_declares_a_scope() -> None:
    every = [method for service in services() for method in service.methods]
    assert [method.full_name for method in every if not scope_of(method)] == []


async def call(address: str, method: MethodDescriptor, metadata: tuple[tuple[str, str], ...]) -> grpc.StatusCode:
    """One call of `method` with an empty request, as `metadata` presents itself; its status."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    raw = {"request_serializer": None, "response_deserializer": None}
    async with channels.channel(address, caller=None) as channel:
        try:
            if method.client_streaming:
                call = (
                    channel.stream_stream(path, **raw) if method.server_streaming else channel.stream_unary(path, **raw)
                )
                # Nothing is sent: a client still writing when the server has refused the call
                # may report INTERNAL instead of the server's status (grpc/grpc#36066).
                request: object = iter([])
            else:
                call = (
                    channel.unary_stream(path, **raw) if method.server_streaming else channel.unary_unary(path, **raw)
                )
                request = b""
            answer = call(request, metadata=metadata, timeout=30)
            if method.server_streaming:
                async for _ in answer:
                    pass
            else:
                await answer
        except grpc.aio.AioRpcError as error:
            assert not any(value in (error.details() or "") for _, value in metadata), "a credential was echoed"
            return error.code()
    return grpc.StatusCode.OK


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


WRONG: dict[str, Callable[[], tuple[tuple[str, str], ...]]] = {
    "none": lambda: (),
    "bad_signature": lambda: bearer(tampered()),
    "expired": lambda: bearer(signed(claims(born=0), operator_key())),
    "unknown_issuer": lambda: bearer(TokenMinter("stranger", SigningKey.generate()).token()),
    "unknown_api_key": lambda: (("x-api-key", "bk_0123456789ab_" + "s" * 43),),
}


def cases() -> Iterator[tuple[MethodDescriptor, str]]:
    for method in METHODS:
        for wrong in [*WRONG, "revoked_api_key"]:
            yield method, wrong


@pytest.mark.parametrize(("method", "wrong"), list(cases()), ids=[f"{m.full_name}-{w}" for m, w in cases()])
async def test_a_wrong_or_missing_credential_is_unauthenticated(
    method: MethodDescriptor, wrong: str, addresses: dict[str, str], revoked_key: str
) -> None:
    metadata = (("x-api-key", revoked_key),) if wrong == "revoked_api_key" else WRONG[wrong]()

    assert (
        await call(addresses[method.containing_service.full_name], method, metadata) == grpc.StatusCode.UNAUTHENTICATED
    )


def lacking(scope: str) -> str:
    """A service principal of the session whose default grants lack `scope`."""
    return next(name for name in SERVICES if scope not in Grants().of(name))


@pytest.mark.parametrize("method", METHODS, ids=IDS)
async def test_a_principal_without_the_scope_is_permission_denied(
    method: MethodDescriptor, addresses: dict[str, str]
) -> None:
    scope = scope_of(method)
    metadata = bearer(channels.credentials.minter(lacking(scope)).token())

    assert await call(addresses[method.containing_service.full_name], method, metadata) == (
        grpc.StatusCode.PERMISSION_DENIED
    )


@pytest.mark.parametrize("method", METHODS, ids=IDS)
async def test_the_operator_gets_past_the_guard(method: MethodDescriptor, addresses: dict[str, str]) -> None:
    """Past the guard, an empty request meets the method's own checks: anything but a refusal."""
    metadata = bearer(channels.credentials.minter("operator").token())
    code = await call(addresses[method.containing_service.full_name], method, metadata)

    assert code not in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)
