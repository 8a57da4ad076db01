"""The HTTP channel adapter against a real local endpoint: what each answer means for the
message (taken, tried again, refused for good), the idempotency key on every POST, and no
state carried from one person's message to the next."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
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
        self.seen.append(dict(request.headers))
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
