"""HTTP/1.1 POSTs to one endpoint over keep-alive connections: what the HTTP channels need, cheaply.

A broadcast hands thousands of messages a second to an endpoint, one POST each. aiohttp's
client, which this replaced, spent ~100 us of CPU on a POST against the bench's sink (URL,
header and cookie machinery, a timer per request, its connector): a quarter of campaign's CPU
per message. pyreqwest (Rust) took ~60 us, this client ~33 us; in the broadcast benchmark,
campaign's CPU per message fell from 0.375 to 0.30-0.32 ms (README, campaign benchmarks). A
channel needs little of HTTP: one endpoint, a small body, the answer's status. So httptools
(llhttp, the parser uvicorn uses) reads the answers, asyncio's transports carry them (TLS
included), and a connection goes back to the pool only after a complete answer that allows it.

A request that fails on a reused connection before any byte of its answer arrived is sent once
more on a new connection: the endpoint may have closed the idle connection as the request left,
and the idempotency key makes a repeat harmless.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools


class AnswerError(ConnectionError):
    """The endpoint answered something that is not HTTP/1.x."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    target: str  # the path and query, as the request line carries them
    tls: bool

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """The endpoint of an http:// or https:// URL; ValueError says what is wrong with it."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
        if not parts.hostname:
            raise ValueError(f"{url!r} names no host")
        tls = parts.scheme == "https"
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.hostname, parts.port or (443 if tls else 80), target, tls)

    @property
    def authority(self) -> str:
        """The Host header: the port only where it is not the scheme's."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.tls else 80) else f"{host}:{self.port}"


class PostClient:
    """POSTs of `content_type` bodies to `endpoint`, at most `connections` at once, each
    answered within `timeout` seconds (connecting included) or failed with TimeoutError."""

    def __init__(self, endpoint: Endpoint, *, connections: int, timeout: float, content_type: str) -> None:
        self._endpoint, self._timeout, self.connections = endpoint, timeout, connections
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[_Connection] = []
        self._closed = False
        self._tls = ssl.create_default_context() if endpoint.tls else None
        self._head = (f"POST {endpoint.target} HTTP/1.1\r\nHost: {endpoint.authority}\r\n"
                      f"User-Agent: bullseye-campaign\r\nContent-Type: {content_type}\r\n").encode("ascii")  # fmt: skip

    async def post(self, headers: Mapping[str, str], body: bytes) -> int:
        """The answer's status. Raises OSError (no connection, or it broke), TimeoutError, or
        ValueError for a header that cannot be sent (a line break, or beyond Latin-1)."""
        request = self._request(headers, body)
        async with self._slots, asyncio.timeout(self._timeout):
            reused = self._reused()
            if reused is not None:
                try:
                    return await self._exchange(reused, request)
                except ConnectionError:
                    if reused.heard:
                        raise
            return await self._exchange(await self._connect(), request)

    async def close(self) -> None:
        """Closes the idle connections now, and those in use as their answers come."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()

    def _request(self, headers: Mapping[str, str], body: bytes) -> bytes:
        fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        if fields.count("\n") != len(headers) or fields.count("\r") != len(headers):
            raise ValueError("a header name or value holds a line break")
        return b"".join((self._head, fields.encode("latin-1"), b"Content-Length: %d\r\n\r\n" % len(body), body))

    def _reused(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        host = self._endpoint.host if self._tls else None
        _, connection = await loop.create_connection(_Connection, self._endpoint.host, self._endpoint.port,
                                                     ssl=self._tls, server_hostname=host)  # fmt: skip
        return connection

    async def _exchange(self, connection: _Connection, request: bytes) -> int:
        try:
            status = await connection.send(request)
        except BaseException:  # failed, timed out or cancelled: its answer may still come
            connection.close()
            raise
        if connection.reusable and not self._closed:
            self._idle.append(connection)
        else:
            connection.close()
        return status


class _Connection(asyncio.Protocol):
    """One connection, one request at a time; its answer's status resolves the request's future."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._answer: asyncio.Future[int] | None = None
        self._status = 0
        self._keep_alive = False  # the answer allows another request (read as it completes)
        self.heard = False  # a byte of the current answer arrived
        self.closed = False

    @property
    def reusable(self) -> bool:
        return self._keep_alive and not self.closed

    def send(self, request: bytes) -> asyncio.Future[int]:
        assert self._transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._status, self._keep_alive, self.heard = 0, False, False
        self._transport.write(request)
        return self._answer

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio's subclasses

    def data_received(self, data: bytes) -> None:
        self.heard = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._settle(error=AnswerError(f"not an HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._status >= 200:  # an answer whose body ends with the connection
            self._settle(status=self._status)
        else:
            self._settle(error=exc if isinstance(exc, OSError) else ConnectionResetError("the endpoint hung up"))

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_message_complete(self) -> None:
        if self._status >= 200:  # not an interim 1xx: the answer
            self._keep_alive = self._parser.should_keep_alive()
            self._settle(status=self._status)

    def _settle(self, *, status: int = 0, error: OSError | None = None) -> None:
        answer, self._answer = self._answer, None
        if answer is None or answer.done():
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(status)
