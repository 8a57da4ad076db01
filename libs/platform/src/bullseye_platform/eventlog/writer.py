"""Durable, idempotent appends with group commit.

In strict durability the server fsyncs once per write call, so publishing message by
message caps out near 2.8k msgs/s here. The writer therefore coalesces the messages of
all concurrent callers into JetStream atomic batches (ADR-50, nats-server 2.12+): one
batch, one fsync, every message still carrying its own `Nats-Msg-Id`. An atomic batch
that contains an already-seen id is rejected whole (err_code 10201), so that batch falls
back to pipelined per-message publishes, which report each duplicate individually.

Every message but a batch's last is encoded here, straight to its HPUB frame, and queued
on the connection in one piece (`_queue_frames`): `Client.publish` validates each header
key with a regex, re-encodes headers that are the same for the whole batch and creates a
flush future per call, about 20% of the ingestion service's CPU per event in a py-spy
profile of `make bench`. The stored headers are byte for byte what `publish` writes.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from nats import errors as nats_errors
from nats.aio.client import Client as NATS
from nats.errors import TimeoutError as NatsTimeoutError

log = logging.getLogger(__name__)

DUPLICATE_IN_BATCH = 10201
MAX_ATOMIC_BATCH = 1000  # the server's limit per atomic batch

# What nats-py accepts and rewrites when it encodes headers (nats/aio/client.py).
_HEADER_KEY = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_NEWLINES = str.maketrans({"\r": " ", "\n": " "})
_BAD_SUBJECT = re.compile(r"[ \t\r\n]")
_RESERVED = frozenset({"Nats-Msg-Id", "Nats-Batch-Id", "Nats-Batch-Sequence", "Nats-Batch-Commit"})


class AppendError(Exception):
    """The log did not acknowledge a write; the caller must not report it durable."""


@dataclass(frozen=True)
class LogMessage:
    subject: str
    payload: bytes
    msg_id: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def header_map(self, **extra: str) -> dict[str, str]:
        return {**self.headers, "Nats-Msg-Id": self.msg_id, **extra}


@dataclass(frozen=True)
class Appended:
    """Where a message is in the stream; `duplicate` if it was already there."""

    seq: int
    duplicate: bool


class _Ticket:
    """One `append` call: its messages, and ONE future for all of them.

    A future per message cost ~3 us per event (creation, gather's callbacks, one loop
    callback each on resolution), more than the whole frame encoding.
    """

    __slots__ = ("future", "messages", "remaining", "results", "taken")

    def __init__(self, messages: Sequence[LogMessage], future: asyncio.Future[list[Appended]]) -> None:
        self.messages, self.future = messages, future
        self.results: list[Appended] = [_NOT_YET] * len(messages)
        self.remaining = len(messages)
        self.taken = 0  # messages already handed to a batch

    def deliver(self, start: int, appended: Sequence[Appended]) -> None:
        self.results[start : start + len(appended)] = appended
        self.remaining -= len(appended)
        if self.remaining == 0 and not self.future.done():
            self.future.set_result(self.results)

    def fail(self, error: AppendError) -> None:
        if not self.future.done():
            self.future.set_exception(error)


@dataclass(frozen=True)
class _Part:
    """Messages [start, stop) of a ticket, as placed in one batch."""

    ticket: _Ticket
    start: int
    stop: int


_NOT_YET = Appended(seq=0, duplicate=False)


class LogWriter:
    """Appends messages to one stream; safe to share between concurrent requests.

    Args:
        max_batch: most messages per atomic batch (<= 1000, the server's limit).
        max_in_flight: atomic batches awaiting their ack at once.
        timeout: seconds to wait for the server's ack of one batch.
        atomic: False publishes message by message (for streams or servers without
            atomic batch support).
    """

    def __init__(
        self,
        nc: NATS,
        *,
        max_batch: int = 500,
        max_in_flight: int = 4,
        timeout: float = 5.0,
        atomic: bool = True,
    ) -> None:
        self._nc = nc
        self._max_batch = min(max_batch, MAX_ATOMIC_BATCH)
        self._slots = asyncio.Semaphore(max_in_flight)
        self._timeout = timeout
        self._atomic = atomic
        self._queue: collections.deque[_Ticket] = collections.deque()
        self._wakeup = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._flusher: asyncio.Task[None] | None = None

    async def append(self, messages: Sequence[LogMessage]) -> list[Appended]:
        """Append `messages`; returns once the server acknowledged every one.

        Raises:
            AppendError: the server refused or did not answer in time. Some messages may
                be stored: a retry with the same ids stores each at most once.
        """
        if not messages:
            return []
        self._ensure_flusher()
        ticket = _Ticket(messages, asyncio.get_running_loop().create_future())
        self._queue.append(ticket)
        self._wakeup.set()
        return await ticket.future

    def _ensure_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_forever(), name="log-writer-flusher")

    async def _flush_forever(self) -> None:
        while True:
            await self._wakeup.wait()
            await self._slots.acquire()
            parts = self._take()
            if not self._queue:
                self._wakeup.clear()
            if not parts:
                self._slots.release()
                continue
            task = asyncio.create_task(self._send(parts))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    def _take(self) -> list[_Part]:
        """Up to `max_batch` queued messages, in arrival order; a call's messages may span batches."""
        parts: list[_Part] = []
        room = self._max_batch
        while self._queue and room:
            ticket = self._queue[0]
            start = ticket.taken
            ticket.taken = stop = min(len(ticket.messages), start + room)
            parts.append(_Part(ticket, start, stop))
            room -= stop - start
            if stop == len(ticket.messages):
                self._queue.popleft()
        return parts

    async def _send(self, parts: list[_Part]) -> None:
        batch = [m for part in parts for m in part.ticket.messages[part.start : part.stop]]
        try:
            if self._atomic and len(batch) > 1:
                results = await self._send_atomic(batch)
            else:
                results = await self._send_each(batch)
            offset = 0
            for part in parts:
                size = part.stop - part.start
                part.ticket.deliver(part.start, results[offset : offset + size])
                offset += size
        except Exception as exc:  # every waiter must hear about the failure
            error = exc if isinstance(exc, AppendError) else AppendError(f"append failed: {exc!r}")
            for part in parts:
                part.ticket.fail(error)
        finally:
            self._slots.release()

    async def _send_atomic(self, batch: list[LogMessage]) -> list[Appended]:
        batch_id = uuid.uuid4().hex
        last = len(batch)
        messages = batch[:-1]
        if self._nc.is_connected:
            await _queue_frames(self._nc, batch_frames(messages, batch_id, self._nc.max_payload), messages)
        else:  # reconnecting: nats-py's publish applies its reconnect buffer limits
            for number, message in enumerate(messages, start=1):
                headers = message.header_map(**{"Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(number)})
                await self._nc.publish(message.subject, message.payload, headers=headers)
        final = batch[-1]
        commit = final.header_map(
            **{"Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(last), "Nats-Batch-Commit": "1"}
        )
        try:
            reply = await self._nc.request(final.subject, final.payload, timeout=self._timeout, headers=commit)
        except NatsTimeoutError as exc:
            raise AppendError(f"no ack for a batch of {last} within {self._timeout}s") from exc
        ack = json.loads(reply.data)
        error = ack.get("error")
        if error and error.get("err_code") == DUPLICATE_IN_BATCH:
            return await self._send_each(batch)
        if error:
            raise AppendError(f"stream refused a batch of {last}: {error.get('description')} ({error.get('err_code')})")
        first = int(ack["seq"]) - int(ack["count"]) + 1
        return [Appended(seq=first + offset, duplicate=False) for offset in range(last)]

    async def _send_each(self, batch: list[LogMessage]) -> list[Appended]:
        # Pipelined requests whose acks we parse ourselves, not js.publish_async: nats-py
        # 2.16 raises inside its reply callback on an error ack, so that future never
        # resolves and every waiter sat out the whole timeout instead of hearing why.
        publishes = [asyncio.create_task(self._send_one(m)) for m in batch]  # started in order
        try:
            return list(await asyncio.gather(*publishes))
        finally:
            for task in publishes:
                task.cancel()

    async def _send_one(self, message: LogMessage) -> Appended:
        try:
            reply = await self._nc.request(
                message.subject, message.payload, timeout=self._timeout, headers=message.header_map()
            )
        except NatsTimeoutError as exc:
            raise AppendError(f"no ack for message {message.msg_id} within {self._timeout}s") from exc
        ack = json.loads(reply.data)
        error = ack.get("error")
        if error:
            raise AppendError(
                f"stream refused message {message.msg_id}: {error.get('description')} ({error.get('err_code')})"
            )
        return Appended(seq=int(ack["seq"]), duplicate=bool(ack.get("duplicate")))

    async def close(self) -> None:
        """Wait for batches in flight, then stop the flusher."""
        while self._queue:  # noqa: ASYNC110 - the flusher is moving them into batches in flight
            await asyncio.sleep(0.01)
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)


def encode_headers(headers: Mapping[str, str]) -> bytes:
    """`Key: value\\r\\n` lines, exactly as nats-py's publish encodes them (no status line)."""
    lines = []
    for name, value in headers.items():
        key = name.strip()
        if not key:
            continue  # nats-py skips empty keys
        if not _HEADER_KEY.fullmatch(key):
            raise nats_errors.BadHeaderError(key)
        lines.append(f"{key}: {value.strip().translate(_HEADER_NEWLINES)}\r\n")
    return "".join(lines).encode()


def batch_frames(messages: Sequence[LogMessage], batch_id: str, max_payload: int) -> bytes:
    """The HPUB frames of messages 1..n of atomic batch `batch_id`, commit excluded.

    A message's own headers are encoded once per distinct mapping (a request's messages
    share one), and the batch id line once per batch.

    Raises:
        nats.errors.BadSubjectError, BadHeaderError, MaxPayloadError: as `Client.publish`.
    """
    batch_line = f"Nats-Batch-Id: {batch_id}\r\n".encode()
    encoded: dict[int, bytes] = {}
    frames = []
    for number, message in enumerate(messages, start=1):
        if not message.subject or _BAD_SUBJECT.search(message.subject):
            raise nats_errors.BadSubjectError
        if len(message.payload) > max_payload:
            raise nats_errors.MaxPayloadError
        if _RESERVED.isdisjoint(message.headers):
            own = encoded.get(id(message.headers))
            if own is None:
                own = encoded[id(message.headers)] = encode_headers(message.headers)
            msg_id = message.msg_id.strip().translate(_HEADER_NEWLINES)
            headers = (
                b"".join(
                    (b"NATS/1.0\r\n", own, b"Nats-Msg-Id: ", msg_id.encode(), b"\r\n", batch_line),
                )
                + b"Nats-Batch-Sequence: %d\r\n\r\n" % number
            )
        else:  # a caller's header overrides ours: let the general encoding keep the order
            extra = {"Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(number)}
            headers = b"NATS/1.0\r\n" + encode_headers(message.header_map(**extra)) + b"\r\n"
        size = len(headers)
        frames.append(b"HPUB %s %d %d\r\n" % (message.subject.encode(), size, size + len(message.payload)))
        frames += (headers, message.payload, b"\r\n")
    return b"".join(frames)


async def _queue_frames(nc: NATS, frames: bytes, messages: Sequence[LogMessage]) -> None:
    """Queue pre-encoded publish frames on a connected client, as its publish would.

    Private nats-py API, on purpose: `Client.publish` encodes and flushes one message per
    call (see the module docstring for the cost). nats-py is pinned in uv.lock; re-check
    `Client._send_command` when upgrading it. The frames go out with the batch's commit
    (`Client.request`, which flushes); if the connection fails before that, the request
    raises and `_send` hands the error to every waiter as AppendError.

    Raises:
        nats.errors.ConnectionClosedError, ConnectionDrainingError: as `Client.publish`.
    """
    if nc.is_closed:
        raise nats_errors.ConnectionClosedError
    if nc.is_draining_pubs:
        raise nats_errors.ConnectionDrainingError
    await nc._send_command(frames)
    nc.stats["out_msgs"] += len(messages)
    nc.stats["out_bytes"] += sum(len(m.payload) for m in messages)
