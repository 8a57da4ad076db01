"""The sinks themselves, served on ports they bind (0: any) in the running event loop."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

CHANNELS = ("push", "sms", "in_app", "webhook")


def campaign_settings(smtp_port: int, http_port: int) -> dict[str, str]:
    """CAMPAIGN_* settings that send every channel to sinks on these local ports."""
    base = f"http://127.0.0.1:{http_port}"
    return {
        "CAMPAIGN_SMTP_HOST": "127.0.0.1", "CAMPAIGN_SMTP_PORT": str(smtp_port),
        **{f"CAMPAIGN_{c.upper()}_URL": f"{base}/{c}" for c in CHANNELS},
    }  # fmt: skip


@dataclass(frozen=True)
class Received:
    """One handoff: the channel, the idempotency key, whom it was for, when (epoch seconds), what."""

    channel: str
    key: str
    person_id: str
    address: str
    at: float
    subject: str = ""
    body: str = ""


@dataclass
class ChannelSinks:
    """An SMTP server and an HTTP receiver; `received` holds every handoff in arrival order."""

    received: list[Received] = field(default_factory=list)
    refuse_first: int = 0  # HTTP: answer 503 to this many attempts of each message
    keep: bool = True  # keep what was received in `received` (a process writes it to a file instead)
    on_receive: Callable[[Received], None] | None = None
    smtp_port: int = 0
    http_port: int = 0
    _attempts: Counter[str] = field(default_factory=Counter)
    _servers: list[Any] = field(default_factory=list)

    async def start(self, *, smtp_port: int = 0, http_port: int = 0) -> ChannelSinks:
        loop = asyncio.get_running_loop()
        smtp = await loop.create_server(lambda: SMTP(_MailHandler(self)), "127.0.0.1", smtp_port)
        self.smtp_port = smtp.sockets[0].getsockname()[1]
        app = web.Application()
        app.router.add_post("/{channel}", self._http)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", http_port)
        await site.start()
        self.http_port = runner.addresses[0][1]
        self._servers = [smtp, runner]
        return self

    def urls(self) -> dict[str, str]:
        """CAMPAIGN_* settings that send every channel here."""
        return campaign_settings(self.smtp_port, self.http_port)

    def record(self, received: Received) -> None:
        if self.keep:
            self.received.append(received)
        if self.on_receive is not None:
            self.on_receive(received)

    def messages(self) -> dict[str, set[str]]:
        """person id (email: the address) -> the distinct messages (keys) they got."""
        found: dict[str, set[str]] = defaultdict(set)
        for r in self.received:
            found[r.person_id or r.address].add(r.key)
        return dict(found)

    def repeats(self) -> int:
        """Handoffs of a message already received (after a crash before campaign's commit)."""
        return len(self.received) - len({r.key for r in self.received})

    async def _http(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        self._attempts[key] += 1
        if self._attempts[key] <= self.refuse_first:
            return web.Response(status=503, text="try again")
        body = await request.text()
        document = json.loads(body) if request.match_info["channel"] != "webhook" else {}
        self.record(Received(
            channel=request.match_info["channel"], key=key, person_id=request.headers.get("X-Bullseye-Person", ""),
            address=str(document.get("to", "")), at=time.time(), subject=str(document.get("title", "")),
            body=str(document.get("body", body)),
        ))  # fmt: skip
        return web.Response(status=200, text="ok")

    async def stop(self) -> None:
        for server in self._servers:
            if isinstance(server, web.AppRunner):
                await server.cleanup()
            else:
                server.close()
                await server.wait_closed()


class _MailHandler:
    """aiosmtpd's handler: every message accepted is recorded under its Message-ID's key."""

    def __init__(self, sinks: ChannelSinks) -> None:
        self._sinks = sinks

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = email.message_from_bytes(content, policy=email.policy.default)
        key = str(message.get("Message-ID", "")).strip("<>").split("@", 1)[0]
        body = message.get_body(preferencelist=("plain",))
        person, text = str(message.get("X-Bullseye-Person", "")), body.get_content() if body is not None else ""
        self._sinks.record(Received(
            channel="email", key=key, person_id=person, address=",".join(envelope.rcpt_tos), at=time.time(),
            subject=str(message.get("Subject", "")), body=text,
        ))  # fmt: skip
        return "250 OK"
