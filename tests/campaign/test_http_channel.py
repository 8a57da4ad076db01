"""The HTTP channel adapter against a real local endpoint: what each answer means for the
message (taken, tried again, refused for good), the idempotency key on every POST, and no
state carried from one person's message to the next."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme
from aiohttp import web
from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye_campaign.adapters.channels.base import HandoffOutcome, Outgoing
from bullseye_campaign.adapters.channels.http import HttpChannel


@dataclass
class Endpoint:
    """Answers each POST with the status its message's person id names ("status-503"), sets
    a cookie, and keeps every request's headers."""

    url: str = ""
    seen: list[dict[str, str]] = field(default_factory=list)

    async def answer(self, request: web.Request) -> web.Response:
        assert request.transport is not None
        self.seen.append({**request.headers, "X-Peer-Port": str(request.transport.get_extra_info("peername")[1])})
        person = request.headers.get("X-Bullseye-Person", "")
        status = int(person.removeprefix("status-")) if person.startswith("status-") else 202
        response = web.Response(status=status)
        response.set_cookie("session", f"of-{person}")
        return response


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    found = Endpoint()
    app = web.Application()
    app.router.add_post("/push", found.answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)  # the kernel's port, read back from the socket
    await site.start()
    port = runner.addresses[0][1]
    found.url = f"http://127.0.0.1:{port}/push"
    yield found
    await runner.cleanup()


def outgoing(person_id: str, message_id: str) -> Outgoing:
    message = apb.RenderedMessage(channel=cpb.CHANNEL_PUSH, title="Back in stock", body="Your pans are back")
    return Outgoing(message_id=message_id, campaign_id="c-1", person_id=person_id, channel=cpb.CHANNEL_PUSH,
                    message=message, device_ids=("device-1",))  # fmt: skip


async def test_each_answer_decides_the_outcome_and_every_post_carries_its_idempotency_key(
    endpoint: Endpoint,
) -> None:
    channel = HttpChannel(endpoint.url, connections=4)
    statuses = {"p-ok": "status-200", "p-accepted": "status-202", "p-slow": "status-503", "p-busy": "status-429",
                "p-timeout": "status-408", "p-bad": "status-400", "p-gone": "status-410"}  # fmt: skip
    try:
        results = await channel.hand_off([outgoing(person, f"m-{key}") for key, person in statuses.items()])
    finally:
        await channel.close()

    outcomes = {r.message_id: r.outcome for r in results}
    assert outcomes == {
        "m-p-ok": HandoffOutcome.SENT, "m-p-accepted": HandoffOutcome.SENT,
        "m-p-slow": HandoffOutcome.TRANSIENT, "m-p-busy": HandoffOutcome.TRANSIENT,
        "m-p-timeout": HandoffOutcome.TRANSIENT,
        "m-p-bad": HandoffOutcome.PERMANENT, "m-p-gone": HandoffOutcome.PERMANENT,
    }  # fmt: skip
    assert sorted(h["Idempotency-Key"] for h in endpoint.seen) == sorted(f"m-{key}" for key in statuses)


async def test_a_cookie_one_answer_sets_never_rides_on_the_next_message(endpoint: Endpoint) -> None:
    by_name = endpoint.url.replace("127.0.0.1", "localhost")  # a jar keeps no cookie of a bare IP address
    channel = HttpChannel(by_name, connections=1)
    try:
        await channel.hand_off([outgoing("p-first", "m-1")])
        await channel.hand_off([outgoing("p-second", "m-2")])
    finally:
        await channel.close()

    assert [h.get("X-Bullseye-Person") for h in endpoint.seen] == ["p-first", "p-second"]
    assert all("Cookie" not in h for h in endpoint.seen)


async def test_messages_share_a_few_kept_alive_connections(endpoint: Endpoint) -> None:
    channel = HttpChannel(endpoint.url, connections=2)
    try:
        for turn in range(3):
            await channel.hand_off([outgoing(f"p-{turn}-{n}", f"m-{turn}-{n}") for n in range(20)])
    finally:
        await channel.close()

    assert len(endpoint.seen) == 60
    assert len({h["X-Peer-Port"] for h in endpoint.seen}) <= 2


@dataclass
class RawEndpoint:
    """A TCP server that reads each request whole and writes `answer(person id)` verbatim (None:
    never answers). After `per_connection` answers on a connection it hangs up on the next
    request unanswered, as an endpoint closing an idle connection just as a request arrives."""

    answer: Callable[[str], bytes | None]
    per_connection: int | None = None
    answered: list[str] = field(default_factory=list)  # idempotency keys, in arrival order
    dropped: list[str] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            for count in itertools.count():
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if line)
                await reader.readexactly(int(headers["Content-Length"]))
                if count == self.per_connection:
                    self.dropped.append(headers["Idempotency-Key"])
                    break
                self.answered.append(headers["Idempotency-Key"])
                answer = self.answer(headers["X-Bullseye-Person"])
                if answer is None:
                    await reader.read()  # until the client gives up
                    break
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer:
                    break
        writer.close()


@contextlib.asynccontextmanager
async def raw_endpoint(found: RawEndpoint) -> AsyncIterator[str]:
    server = await asyncio.start_server(found.serve, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/push"


async def test_a_request_on_a_connection_the_endpoint_drops_is_sent_again_on_a_new_one() -> None:
    """A request that got no byte back on a reused connection goes once more, on a new one."""
    found = RawEndpoint(lambda _: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", per_connection=1)
    async with raw_endpoint(found) as url:
        channel = HttpChannel(url, connections=1)
        try:
            results = [r for n in range(20) for r in await channel.hand_off([outgoing(f"p-{n}", f"m-{n}")])]
        finally:
            await channel.close()

    assert [r.outcome for r in results] == [HandoffOutcome.SENT] * 20
    assert found.answered == [f"m-{n}" for n in range(20)]
    assert found.dropped == [f"m-{n}" for n in range(1, 20)]  # each but the first met a dropped connection


ANSWERS = {
    "p-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "p-no-body": b"HTTP/1.1 204 No Content\r\n\r\n",
    "p-interim": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
    "p-ends-at-close": b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\nbusy",
    "p-refused": b"HTTP/1.0 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad",
    "p-not-http": b"220 smtp.example ESMTP ready\r\n",
}


async def test_every_framing_of_an_answer_is_read_to_its_status() -> None:
    found = RawEndpoint(lambda person: ANSWERS[person])
    async with raw_endpoint(found) as url:
        channel = HttpChannel(url, connections=2)
        try:
            results = await channel.hand_off([outgoing(person, f"m-{person}") for person in ANSWERS])
        finally:
            await channel.close()

    assert {r.message_id: (r.outcome, r.error) for r in results} == {
        "m-p-chunked": (HandoffOutcome.SENT, ""), "m-p-no-body": (HandoffOutcome.SENT, ""),
        "m-p-interim": (HandoffOutcome.SENT, ""),
        "m-p-ends-at-close": (HandoffOutcome.TRANSIENT, "HTTP 503"),
        "m-p-refused": (HandoffOutcome.PERMANENT, "HTTP 400"),
        "m-p-not-http": (HandoffOutcome.TRANSIENT, "no answer: AnswerError"),
    }  # fmt: skip


async def test_an_answer_that_does_not_come_in_time_is_tried_again_later() -> None:
    found = RawEndpoint(lambda _: None)
    async with raw_endpoint(found) as url:
        channel = HttpChannel(url, connections=1, timeout=0.2)
        try:
            [result] = await channel.hand_off([outgoing("p-waiting", "m-1")])
        finally:
            await channel.close()

    assert (result.outcome, result.error) == (HandoffOutcome.TRANSIENT, "no answer: TimeoutError")
    assert found.answered == ["m-1"]


async def test_an_id_that_would_break_the_request_is_refused_and_never_sent(endpoint: Endpoint) -> None:
    channel = HttpChannel(endpoint.url, connections=1)
    try:
        [result] = await channel.hand_off([outgoing("p-1\r\nX-Injected: yes", "m-1")])
    finally:
        await channel.close()

    assert result.outcome is HandoffOutcome.PERMANENT
    assert endpoint.seen == []


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


async def test_an_https_endpoint_is_reached_only_with_a_certificate_the_system_trusts(
    authority: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(served)
    found = Endpoint()
    app = web.Application()
    app.router.add_post("/push", found.answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=served).start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}/push"
    try:
        untrusted = HttpChannel(url, connections=1)  # the system's authorities do not know this one
        [refused] = await untrusted.hand_off([outgoing("p-1", "m-1")])
        await untrusted.close()
        authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # what OpenSSL's default paths read
        trusted = HttpChannel(url, connections=1)
        [taken] = await trusted.hand_off([outgoing("p-2", "m-2")])
        await trusted.close()
    finally:
        await runner.cleanup()

    assert (refused.outcome, refused.error) == (HandoffOutcome.TRANSIENT, "no answer: SSLCertVerificationError")
    assert taken.outcome is HandoffOutcome.SENT
    assert [h["Idempotency-Key"] for h in found.seen] == ["m-2"]
