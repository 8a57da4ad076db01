"""Push, SMS, in-app and webhook over HTTP POST (keep-alive connections: post_client.py).

Each message is one POST to the channel's configured endpoint with the idempotency key as the
`Idempotency-Key` header (the convention of Stripe's API and the IETF draft of that name), so
a receiver answers a repeat without acting twice. 2xx: taken. 408, 425, 429 and 5xx, or no
answer: tried again later. Any other answer: refused for good.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from bullseye_campaign.adapters.channels.base import Handoff, HandoffOutcome, Outgoing, in_lanes
from bullseye_campaign.adapters.channels.post_client import Endpoint, PostClient
from bullseye_campaign.domain import names

RETRIED_STATUSES = frozenset({408, 425, 429})


class HttpChannel:
    """One endpoint; `webhook` posts the rendered body itself (a JSON document) about the person.

    No cookies are kept: an endpoint's Set-Cookie must not ride along on other persons' messages.
    """

    def __init__(self, url: str, *, connections: int, webhook: bool = False, timeout: float = 10.0) -> None:
        """Raises ValueError for a URL that is not http:// or https://."""
        self._webhook = webhook
        self._client = PostClient(Endpoint.parse(url), connections=connections, timeout=timeout,
                                  content_type="application/json")  # fmt: skip

    async def hand_off(self, messages: Sequence[Outgoing]) -> list[Handoff]:
        return await in_lanes(messages, self._client.connections, self._post)

    async def _post(self, outgoing: Outgoing) -> Handoff:
        headers = {"Idempotency-Key": outgoing.message_id, "X-Bullseye-Campaign": outgoing.campaign_id,
                   "X-Bullseye-Person": outgoing.person_id}  # fmt: skip
        body = outgoing.message.body if self._webhook else json.dumps(_document(outgoing))
        if self._webhook and not _is_json(body):
            return Handoff(outgoing.message_id, HandoffOutcome.PERMANENT, "the webhook body did not render to JSON")
        try:
            status = await self._client.post(headers, body.encode())
        except (OSError, TimeoutError) as exc:
            return Handoff(outgoing.message_id, HandoffOutcome.TRANSIENT, f"no answer: {type(exc).__name__}")
        except ValueError:
            return Handoff(outgoing.message_id, HandoffOutcome.PERMANENT, "an id cannot travel in an HTTP header")
        if 200 <= status < 300:
            return Handoff(outgoing.message_id, HandoffOutcome.SENT)
        retried = status in RETRIED_STATUSES or status >= 500
        outcome = HandoffOutcome.TRANSIENT if retried else HandoffOutcome.PERMANENT
        return Handoff(outgoing.message_id, outcome, f"HTTP {status}")

    async def close(self) -> None:
        await self._client.close()


def _document(outgoing: Outgoing) -> dict[str, object]:
    message = outgoing.message
    return {
        "message_id": outgoing.message_id, "campaign_id": outgoing.campaign_id, "person_id": outgoing.person_id,
        "channel": names.channel(outgoing.channel),
        "to": outgoing.address, "device_ids": list(outgoing.device_ids),
        "title": message.title, "body": message.body, "url": message.url,
    }  # fmt: skip


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
