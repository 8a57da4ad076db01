"""The guard in the call envelope: who may call (tokens), what they may call (scopes), for every
RPC shape, refused calls logged and counted like others, and no credential ever echoed.

A generic handler stands in for a generated servicer, with a method of each shape; its scope
is `probe:call`, which only the operator (every scope) holds among the session's principals.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import jwt
import pytest
from bullseye_platform.auth import Guard, Principal, SigningKey, TokenMinter, caller
from bullseye_platform.auth.tokens import AUDIENCE
from bullseye_platform.grpc import GrpcServer, ServerOptions
from google.protobuf import descriptor_pb2, descriptor_pool, empty_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests import channels, credentials
from tests.platform.test_grpc_server import session_verifier, trailers

SERVICE = "bullseye.test.v1.Shapes"
SCOPE = "probe:call"
LOGGER = "bullseye.grpc"


class Shapes:
    """Each answers with the admitted caller's name: the principal is current in the servicer."""

    async def unary(self, request: bytes, context: Any) -> bytes:
        return caller().name.encode()

    async def server_stream(self, request: bytes, context: Any) -> AsyncIterator[bytes]:
        yield caller().name.encode()

    async def client_stream(self, requests: AsyncIterator[bytes], context: Any) -> bytes:
        async for _ in requests:
            pass
        return caller().name.encode()

    async def bidi(self, requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
        async for _ in requests:
            yield caller().name.encode()

    def register(self, servicer: Shapes, server: grpc.aio.Server) -> None:
        handlers = {
            "Unary": grpc.unary_unary_rpc_method_handler(self.unary),
            "ServerStream": grpc.unary_stream_rpc_method_handler(self.server_stream),
            "ClientStream": grpc.stream_unary_rpc_method_handler(self.client_stream),
            "Bidi": grpc.stream_stream_rpc_method_handler(self.bidi),
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


SHAPES = ("Unary", "ServerStream", "ClientStream", "Bidi")


async def invoke(
    channel: grpc.aio.Channel, shape: str, metadata: tuple[tuple[str, str], ...] = (), *, sends: bool = True
) -> list[bytes]:
    """One call of `shape` with raw bytes; every answer it streams. A streaming request sends
    one message, or none (`sends=False`)."""
    path, kw = f"/{SERVICE}/{shape}", {"request_serializer": None, "response_deserializer": None}
    options: dict[str, Any] = {"metadata": metadata, "timeout": 10}
    stream = iter([b"x"] if sends else [])
    if shape == "Unary":
        return [await channel.unary_unary(path, **kw)(b"x", **options)]
    if shape == "ClientStream":
        return [await channel.stream_unary(path, **kw)(stream, **options)]
    call = channel.unary_stream(path, **kw)(b"x", **options) if shape == "ServerStream" else (
        channel.stream_stream(path, **kw)(stream, **options))  # fmt: skip
    return [reply async for reply in call]


async def refusal(
    channel: grpc.aio.Channel, shape: str, metadata: tuple[tuple[str, str], ...] = ()
) -> grpc.aio.AioRpcError:
    """A refused call. Its request stream sends nothing: a grpc.aio client still writing when
    the server has ended the call may report INTERNAL instead of the server's status
    (grpc/grpc#36066), a client-side race that says nothing about the server."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await invoke(channel, shape, metadata, sends=False)
    return raised.value


@pytest.fixture(scope="module")
async def address() -> AsyncIterator[str]:
    server = GrpcServer(ServerOptions(host="127.0.0.1", port=0, grace=0.0), authenticators=[session_verifier()])
    shapes = Shapes()
    server.add(shapes.register, shapes, SERVICE, scopes={f"/{SERVICE}/{shape}": SCOPE for shape in SHAPES})
    await server.start()
    yield f"127.0.0.1:{server.port}"
    await server.stop()


@pytest.fixture(scope="module")
async def anonymous(address: str) -> AsyncIterator[grpc.aio.Channel]:
    async with channels.channel(address, caller=None) as opened:
        yield opened


@pytest.mark.parametrize("shape", SHAPES)
async def test_the_operator_is_admitted_to_every_shape_and_is_the_current_caller(address: str, shape: str) -> None:
    async with channels.channel(address) as channel:
        assert await invoke(channel, shape) == [b"operator"]


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_call_without_credentials_is_unauthenticated_saying_what_to_send(
    anonymous: grpc.aio.Channel, shape: str
) -> None:
    error = await refusal(anonymous, shape)

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "authorization: Bearer" in (error.details() or "")


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_principal_without_the_scope_is_permission_denied_naming_it(address: str, shape: str) -> None:
    async with channels.channel(address, caller="profile") as channel:
        error = await refusal(channel, shape)

    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert f"'{SCOPE}'" in (error.details() or "") and "'profile'" in (error.details() or "")


def signed(claims: dict[str, Any], key: SigningKey) -> str:
    return jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid})


def claims(issuer: str = "operator", *, born: float | None = None, life: float = 300, **extra: Any) -> dict[str, Any]:
    now = time.time() if born is None else born
    return {"iss": issuer, "aud": AUDIENCE, "iat": int(now), "exp": int(now + life), **extra}


def operator_key() -> SigningKey:
    return SigningKey.from_env(credentials.keys()["BULLSEYE_OPERATOR_KEY"])


def tampered() -> str:
    """The operator's valid token with another signature (the one of a stranger's key)."""
    token = credentials.minter("operator").token()
    forged = signed(claims(), SigningKey.generate()).rsplit(".", 1)[1]
    return f"{token.rsplit('.', 1)[0]}.{forged}"


BAD_TOKENS: dict[str, Callable[[], str]] = {
    "bad_signature": tampered,
    "expired": lambda: signed(claims(born=time.time() - 3600), operator_key()),
    "unknown_issuer": lambda: TokenMinter("stranger", SigningKey.generate()).token(),
    "untrusted_key_of_a_known_name": lambda: TokenMinter("operator", SigningKey.generate()).token(),
    "other_audience": lambda: signed(claims(aud="someone-else"), operator_key()),
    "too_long_lived": lambda: signed(claims(life=24 * 3600), operator_key()),
    "not_yet_issued": lambda: signed(claims(born=time.time() + 3600), operator_key()),
    "malformed": lambda: "not.a.jwt",
    "not_a_token": lambda: "hunter2-but-no-token",
}


@pytest.mark.parametrize("make", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_a_bad_token_is_unauthenticated_and_never_echoed(
    anonymous: grpc.aio.Channel, make: Callable[[], str]
) -> None:
    token = make()
    error = await refusal(anonymous, "Unary", (("authorization", f"Bearer {token}"),))

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    shown = f"{error.details()} {trailers(error)}"
    assert token not in shown and token.rsplit(".", 1)[-1] not in shown


async def test_refused_calls_are_logged_like_any_failed_call_without_the_credential(
    anonymous: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    token = tampered()
    await refusal(anonymous, "Bidi", (("authorization", f"Bearer {token}"),))

    lines = [(r.getMessage(), r.__dict__.get("method"), r.__dict__.get("code")) for r in caplog.records]
    assert ("rpc failed", f"/{SERVICE}/Bidi", "UNAUTHENTICATED") in lines
    assert all(token not in record.getMessage() and token not in str(record.__dict__) for record in caplog.records)


async def test_health_is_open(anonymous: grpc.aio.Channel) -> None:
    reply = await health_pb2_grpc.HealthStub(anonymous).Check(health_pb2.HealthCheckRequest(), timeout=10)

    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_credentials_sent_with_a_call_win_over_the_channels(address: str) -> None:
    async with channels.channel(address) as channel:  # the operator's channel
        error = await refusal(channel, "Unary", (("authorization", "Bearer not.a.jwt"),))

    assert error.code() == grpc.StatusCode.UNAUTHENTICATED


def unscoped_service() -> str:
    """A service in the default pool whose method declares no scope, as a careless proto would."""
    name = "bullseye.test.v1.Unscoped"
    with contextlib.suppress(KeyError):
        descriptor_pool.Default().FindServiceByName(name)
        return name
    method = descriptor_pb2.MethodDescriptorProto(
        name="Ping", input_type=".google.protobuf.Empty", output_type=".google.protobuf.Empty"
    )
    proto = descriptor_pb2.FileDescriptorProto(
        name="bullseye/test/v1/unscoped.proto", package="bullseye.test.v1", syntax="proto3",
        dependency=[empty_pb2.DESCRIPTOR.name],  # loaded into the pool by importing it
        service=[descriptor_pb2.ServiceDescriptorProto(name="Unscoped", method=[method])],
    )  # fmt: skip
    descriptor_pool.Default().AddSerializedFile(proto.SerializeToString())
    return name


def test_a_service_whose_method_declares_no_scope_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match=r"/bullseye.test.v1.Unscoped/Ping declare\(s\) no \(bullseye.auth.v1.scope\)"):
        Guard([]).declare(unscoped_service())


def test_a_service_without_a_descriptor_needs_its_scopes_given() -> None:
    with pytest.raises(ValueError, match="no descriptor"):
        Guard([]).declare("bullseye.test.v1.NoDescriptor")


def test_a_method_the_guard_was_not_told_of_admits_nobody() -> None:
    admission = Guard([]).admission(f"/{SERVICE}/Unknown")

    assert admission is not None and admission.scope == ""


def test_a_minted_token_is_reused_then_replaced_before_it_expires() -> None:
    clock = [1_000_000.0]
    minter = TokenMinter("operator", operator_key(), lifetime=300, clock=lambda: clock[0])
    first = minter.token()
    clock[0] += 200
    assert minter.token() == first
    clock[0] += 50  # 50 s left: less than a minute, so a new one

    assert minter.token() != first


async def test_a_verified_token_is_verified_once_and_then_looked_up() -> None:
    verifier = session_verifier()
    token = TokenMinter("operator", operator_key()).token()

    first = await verifier.authenticate(token)
    assert first == Principal(kind="token", name="operator", scopes=frozenset({"*"}))
    assert await verifier.authenticate(token) is first
