"""The envelope parses every request itself, for every RPC shape: hostile bytes get a clear
INVALID_ARGUMENT, unknown fields never reach a servicer, and streaming calls are mapped,
timed and logged like unary ones.

The probe's methods take real request types of the contract (their generated
deserializers are what the envelope replaces) and answer with the bytes of what they got.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from bullseye.ingestion.v1 import ingestion_pb2 as in_pb
from bullseye.profile.v1 import segments_pb2 as sg_pb
from bullseye_platform.grpc import GrpcServer, InvalidArgument, NotFound, ServerOptions, violation
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2

from tests import wire
from tests.channels import channel as open_channel
from tests.platform.test_grpc_server import PROBE_SCOPE, SECRET, details, rich_status, session_verifier

SERVICE = "bullseye.test.v1.Hostile"
HEALTH = "grpc.health.v1.Health"
METHODS = ("Estimate", "Track", "Members", "Batches", "Upload")
GOOD = sg_pb.EstimateRequest(rule=sg_pb.Rule(exists=sg_pb.Exists(field="traits.city"))).SerializeToString()
# A TrackBatchRequest cut inside its event: a length prefix promising more than follows.
TRUNCATED = in_pb.TrackBatchRequest(events=[{"event_id": "e-12345678"}]).SerializeToString()[:-3]
GARBAGE = b"\xff\xff\xff\xff\x0f garbage"
UNKNOWN_EMAIL = wire.unknown(b"jane@example.com")


class Hostile:
    """Methods of each shape that echo what the envelope let through, or fail on demand."""

    def __init__(self) -> None:
        self.seen: list[Message] = []

    async def estimate(self, request: sg_pb.EstimateRequest, context: Any) -> bytes:
        self.seen.append(request)
        return request.SerializeToString()

    async def track(self, request: in_pb.TrackBatchRequest, context: Any) -> bytes:
        self.seen.append(request)
        return request.SerializeToString()

    async def members(self, request: sg_pb.ListMembersRequest, context: Any) -> AsyncIterator[bytes]:
        if request.segment_id == "missing":
            raise NotFound("no segment 'missing'", reason="SEGMENT_NOT_FOUND")
        if request.segment_id == "crash":
            raise RuntimeError(f"could not connect: {SECRET}")
        yield request.SerializeToString()
        if request.segment_id == "stall":
            await asyncio.Event().wait()  # a stuck dependency: only a deadline ends it
        yield b"last"

    async def batches(self, requests: AsyncIterator[in_pb.IngestRequest], context: Any) -> AsyncIterator[bytes]:
        async for request in requests:
            yield request.SerializeToString()

    async def upload(self, requests: AsyncIterator[in_pb.IngestRequest], context: Any) -> bytes:
        return b"%d" % len([r async for r in requests])

    def register(self, servicer: Hostile, server: grpc.aio.Server) -> None:
        estimate, track = sg_pb.EstimateRequest.FromString, in_pb.TrackBatchRequest.FromString
        members, ingest = sg_pb.ListMembersRequest.FromString, in_pb.IngestRequest.FromString
        handlers = {
            "Estimate": grpc.unary_unary_rpc_method_handler(self.estimate, request_deserializer=estimate),
            "Track": grpc.unary_unary_rpc_method_handler(self.track, request_deserializer=track),
            "Members": grpc.unary_stream_rpc_method_handler(self.members, request_deserializer=members),
            "Batches": grpc.stream_stream_rpc_method_handler(self.batches, request_deserializer=ingest),
            "Upload": grpc.stream_unary_rpc_method_handler(self.upload, request_deserializer=ingest),
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


@pytest.fixture
async def hostile() -> Hostile:
    return Hostile()


def authenticated(options: ServerOptions) -> GrpcServer:
    """A server that admits the session's principals: the operator (every channel's caller
    here) may call every method of the probes, so what they answer is about their requests."""
    return GrpcServer(options, authenticators=[session_verifier()])


def scopes(*methods: str) -> dict[str, str]:
    return {f"/{SERVICE}/{name}": PROBE_SCOPE for name in methods}


@pytest.fixture
async def channel(hostile: Hostile) -> AsyncIterator[grpc.aio.Channel]:
    server = authenticated(ServerOptions(host="127.0.0.1", port=0, grace=0.5, default_deadline=1.0))
    server.add(hostile.register, hostile, SERVICE, scopes=scopes(*METHODS))
    await server.start()
    async with open_channel(f"127.0.0.1:{server.port}") as opened:
        yield opened
    await server.stop()


def raw(channel: grpc.aio.Channel, method: str, shape: str = "unary_unary", service: str = SERVICE) -> Any:
    """A callable that sends bytes as they are (no serializer) and returns bytes."""
    return getattr(channel, shape)(f"/{service}/{method}", request_serializer=None, response_deserializer=None)


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        result = await call if not hasattr(call, "__aiter__") else [r async for r in call]
        raise AssertionError(f"the call succeeded: {result!r}")
    return raised.value


def info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    [found] = details(rich_status(error), error_details_pb2.ErrorInfo)
    return found


def assert_says_nothing_of_python(error: grpc.aio.AioRpcError) -> None:
    text = error.details() or ""
    assert not any(word in text for word in ("class", "DecodeError", "Traceback", "upb", "Unexpected")), text


async def one_shot(channel: grpc.aio.Channel, method: str, shape: str, payload: bytes) -> grpc.aio.AioRpcError:
    """Send `payload` as the only request of a call of any shape and expect it refused."""
    call = raw(channel, method, shape)
    if shape.startswith("stream"):
        return await refused(call(iter([payload]), timeout=10))
    return await refused(call(payload, timeout=10))


SHAPES = [
    ("Estimate", "unary_unary"),
    ("Members", "unary_stream"),
    ("Batches", "stream_stream"),
    ("Upload", "stream_unary"),
]


@pytest.mark.parametrize(("method", "shape"), SHAPES)
@pytest.mark.parametrize("payload", [GARBAGE, TRUNCATED, b"\x0a\x02\xff\xfe"], ids=["garbage", "truncated", "utf8"])
async def test_bytes_that_do_not_parse_are_invalid_argument_in_every_shape(
    channel: grpc.aio.Channel, method: str, shape: str, payload: bytes
) -> None:
    error = await one_shot(channel, method, shape, payload)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info(error).reason == "MALFORMED_REQUEST"
    assert_says_nothing_of_python(error)


async def test_health_checks_parse_through_the_envelope_too(channel: grpc.aio.Channel) -> None:
    for method, shape in (("Check", "unary_unary"), ("Watch", "unary_stream")):
        call = raw(channel, method, shape, service=HEALTH)
        error = await refused(call(GARBAGE, timeout=10))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, method
    answer = await raw(channel, "Check", service=HEALTH)(health_pb2.HealthCheckRequest().SerializeToString())
    assert health_pb2.HealthCheckResponse.FromString(answer).status == health_pb2.HealthCheckResponse.SERVING


async def test_a_stream_that_writes_through_its_context_is_served_too(channel: grpc.aio.Channel) -> None:
    """Health's Watch writes with `context.write` (no async generator) and lasts as long as
    its client watches: the envelope runs it under the client's deadline only."""
    call = raw(channel, "Watch", "unary_stream", service=HEALTH)(health_pb2.HealthCheckRequest().SerializeToString())

    first = health_pb2.HealthCheckResponse.FromString(await call.read())
    call.cancel()

    assert first.status == health_pb2.HealthCheckResponse.SERVING


async def test_a_refused_request_is_logged_in_one_line_without_a_traceback(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await one_shot(channel, "Estimate", "unary_unary", GARBAGE)

    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.name, r.getMessage(), r.__dict__.get("code")) for r in lines] == [
        ("bullseye.grpc", "rpc failed", "INVALID_ARGUMENT")
    ]
    assert lines[0].exc_info is None


async def test_a_request_nested_deeper_than_the_parser_goes_names_the_limit(channel: grpc.aio.Channel) -> None:
    estimate = wire.field(1, wire.nested_rule(1000))  # EstimateRequest.rule

    error = await one_shot(channel, "Estimate", "unary_unary", estimate)

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "100 levels" in (error.details() or "")
    assert (info(error).reason, dict(info(error).metadata)) == ("REQUEST_TOO_DEEP", {"limit": "100"})


async def test_unknown_fields_never_reach_the_servicer(channel: grpc.aio.Channel, hostile: Hostile) -> None:
    padded = GOOD + UNKNOWN_EMAIL + wire.unknown(b"x" * (1 << 20), number=1000)  # and a megabyte more

    echoed = await raw(channel, "Estimate")(padded, timeout=10)

    assert echoed == GOOD
    assert b"jane" not in hostile.seen[0].SerializeToString()


async def test_unknown_fields_are_dropped_at_every_depth_and_in_streams(channel: grpc.aio.Channel) -> None:
    event = in_pb.IngestRequest(batch_id="b-1", events=[{"event_id": "e-12345678"}]).SerializeToString()
    # The unknown field inside the event (IngestRequest.events = 2, Event.event_id = 1).
    nested = in_pb.IngestRequest(batch_id="b-1").SerializeToString() + wire.field(
        2, wire.field(1, b"e-12345678") + UNKNOWN_EMAIL
    )

    answers = [a async for a in raw(channel, "Batches", "stream_stream")(iter([nested]), timeout=10)]

    assert answers == [event]


async def test_a_control_character_in_a_string_is_refused_with_its_path(channel: grpc.aio.Channel) -> None:
    request = sg_pb.EstimateRequest(rule=sg_pb.Rule(exists=sg_pb.Exists(field="traits.city\x00")))

    error = await one_shot(channel, "Estimate", "unary_unary", request.SerializeToString())

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    [bad_request] = details(rich_status(error), error_details_pb2.BadRequest)
    assert [v.field for v in bad_request.field_violations] == ["rule.exists.field"]
    assert "U+0000" in bad_request.field_violations[0].description


async def test_items_the_service_checks_one_by_one_reach_it(channel: grpc.aio.Channel, hostile: Hostile) -> None:
    batch = in_pb.TrackBatchRequest(events=[{"event_id": "e-1\x00"}]).SerializeToString()

    assert await raw(channel, "Track")(batch, timeout=10) == batch


async def test_a_server_streaming_error_is_mapped_like_a_unary_one(channel: grpc.aio.Channel) -> None:
    request = sg_pb.ListMembersRequest(segment_id="missing").SerializeToString()
    missing = await refused(raw(channel, "Members", "unary_stream")(request, timeout=10))
    request = sg_pb.ListMembersRequest(segment_id="crash").SerializeToString()
    crashed = await refused(raw(channel, "Members", "unary_stream")(request, timeout=10))

    assert (missing.code(), missing.details(), info(missing).reason) == (
        grpc.StatusCode.NOT_FOUND,
        "no segment 'missing'",
        "SEGMENT_NOT_FOUND",
    )
    assert crashed.code() == grpc.StatusCode.INTERNAL and "hunter2" not in (crashed.details() or "")


async def test_a_server_streaming_call_without_a_deadline_gets_the_servers_default_one(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bullseye.grpc")
    call = raw(channel, "Members", "unary_stream")(sg_pb.ListMembersRequest(segment_id="stall").SerializeToString())

    first = await call.read()
    error = await refused(call.read())

    assert first == sg_pb.ListMembersRequest(segment_id="stall").SerializeToString()
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    logged = [(r.getMessage(), r.__dict__["method"], r.__dict__["code"]) for r in caplog.records if r.levelno >= 30]
    assert ("rpc failed", f"/{SERVICE}/Members", "DEADLINE_EXCEEDED") in logged


async def test_a_bidirectional_stream_outlives_the_default_deadline_while_its_client_talks(
    channel: grpc.aio.Channel,
) -> None:
    """SDKs keep one Ingest stream open; the server's default deadline (1 s here) is for calls
    that do a bounded piece of work, not for a stream its client keeps."""
    call = raw(channel, "Batches", "stream_stream")()
    first = in_pb.IngestRequest(batch_id="b-1").SerializeToString()
    await call.write(first)
    assert await call.read() == first
    await asyncio.sleep(1.5)  # what is tested is time passing beyond the default deadline
    await call.write(first)
    assert await call.read() == first
    await call.done_writing()
    assert await call.code() == grpc.StatusCode.OK


async def test_a_bad_request_in_a_stream_ends_it_after_the_answers_to_the_good_ones(
    channel: grpc.aio.Channel,
) -> None:
    good = in_pb.IngestRequest(batch_id="b-1").SerializeToString()
    call = raw(channel, "Batches", "stream_stream")(iter([good, GARBAGE, good]), timeout=10)

    answers = []
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for answer in call:
            answers.append(answer)

    assert answers == [good]
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


class Overflowing:
    """A servicer that finds hundreds of problems, each described at length in `letter`s."""

    def __init__(self, letter: str) -> None:
        self.letter = letter

    async def fail(self, request: bytes, context: Any) -> bytes:
        found = [violation(f"rule.in.values[{i}].string_value" + "x" * 300, self.letter * 1000) for i in range(500)]
        raise InvalidArgument(self.letter * 10 + "; ".join(v.field for v in found), found)

    def register(self, servicer: Overflowing, server: grpc.aio.Server) -> None:
        handler = grpc.unary_unary_rpc_method_handler(self.fail)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Fail": handler}),))


@pytest.mark.parametrize("letter", ["d", "é", "\U0001f600"])
async def test_hundreds_of_violations_still_reach_the_client_capped_with_a_count(letter: str) -> None:
    overflowing = Overflowing(letter)
    server = authenticated(ServerOptions(host="127.0.0.1", port=0, grace=0.5))
    server.add(overflowing.register, overflowing, SERVICE, scopes=scopes("Fail"))
    await server.start()
    try:
        async with open_channel(f"127.0.0.1:{server.port}") as opened:
            error = await refused(raw(opened, "Fail")(b"", timeout=10))
    finally:
        await server.stop()

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len((error.details() or "").encode()) <= 600
    [bad_request] = details(rich_status(error), error_details_pb2.BadRequest)
    *listed, rest = bad_request.field_violations
    assert listed and [v.field[:17] for v in listed] == [f"rule.in.values[{i}]"[:17] for i in range(len(listed))]
    assert all(len(v.field) <= 160 and len(v.description) <= 240 for v in listed)
    assert (rest.field, rest.description.split()[0]) == ("", str(500 - len(listed)))
