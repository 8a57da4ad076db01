"""Email over real SMTP (aiosmtplib): a few connections side by side, each sending in turn.

SMTP has no idempotency header: the delivery is recorded SENDING before this handoff, and the
idempotency key is the Message-ID's left part (`<key@domain>`), which receivers and mail
stores use to recognise a message handed over twice (after a crash before the commit). A 5xx
answer is permanent; a 4xx answer or a lost connection is tried again later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from email.message import EmailMessage

import aiosmtplib

from bullseye_campaign.adapters.channels.base import Handoff, HandoffOutcome, Outgoing, in_lanes

TIMEOUT = 10.0  # seconds for one SMTP command


class SmtpChannel:
    def __init__(self, *, host: str, port: int, connections: int, sender: str, domain: str) -> None:
        self._host, self._port, self._sender, self._domain = host, port, sender, domain
        self._connections = connections
        self._idle: asyncio.Queue[aiosmtplib.SMTP | None] = asyncio.Queue()
        for _ in range(connections):
            self._idle.put_nowait(None)  # opened on first use

    def message_id(self, key: str) -> str:
        return f"<{key}@{self._domain}>"

    async def hand_off(self, messages: Sequence[Outgoing]) -> list[Handoff]:
        return await in_lanes(messages, self._connections, self._send)

    async def _send(self, outgoing: Outgoing) -> Handoff:
        client = await self._idle.get()
        try:
            client = client if client is not None and client.is_connected else await self._connect()
            await client.send_message(self._email(outgoing))
            return Handoff(outgoing.message_id, HandoffOutcome.SENT)
        except aiosmtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.code < 600
            outcome = HandoffOutcome.PERMANENT if permanent else HandoffOutcome.TRANSIENT
            return Handoff(outgoing.message_id, outcome, f"SMTP {exc.code}: {exc.message[:200]}")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await _dropped(client)
            client = None
            return Handoff(outgoing.message_id, HandoffOutcome.TRANSIENT, f"SMTP unreachable: {type(exc).__name__}")
        finally:
            self._idle.put_nowait(client)

    async def _connect(self) -> aiosmtplib.SMTP:
        client = aiosmtplib.SMTP(hostname=self._host, port=self._port, timeout=TIMEOUT, start_tls=False)
        await client.connect()
        return client

    def _email(self, outgoing: Outgoing) -> EmailMessage:
        email = EmailMessage()
        email["From"], email["To"] = self._sender, outgoing.address
        email["Subject"] = outgoing.message.subject
        email["Message-ID"] = self.message_id(outgoing.message_id)
        email["X-Bullseye-Campaign"], email["X-Bullseye-Person"] = outgoing.campaign_id, outgoing.person_id
        body = outgoing.message.body + (f"\n\n{outgoing.message.url}" if outgoing.message.url else "")
        email.set_content(body)
        return email

    async def close(self) -> None:
        while not self._idle.empty():
            await _dropped(self._idle.get_nowait())


async def _dropped(client: aiosmtplib.SMTP | None) -> None:
    """Close a connection that failed (it is opened again on next use)."""
    if client is not None:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            if client.is_connected:
                await client.quit()
            client.close()
