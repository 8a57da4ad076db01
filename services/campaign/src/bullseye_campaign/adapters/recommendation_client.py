"""Recommendation's Recommend: the items a template shows, fetched for the person at send time.

Called only for messages whose templates use `items`. The channel comes from the platform's
client factory (bootstrap.py): campaign's token (scope `recommendations:read`).
"""

from __future__ import annotations

import grpc
from bullseye.recommendation.v1 import recommendation_pb2 as rpb
from bullseye.recommendation.v1 import recommendation_pb2_grpc as rpb_grpc

from bullseye_campaign.adapters.calls import failed

# Where a message shows items, by channel name: recommendation selects its blend by placement.
PLACEMENT = "campaign-{}"


class RecommendationClient:
    def __init__(self, channel: grpc.aio.Channel, *, items: int) -> None:
        self._stub = rpb_grpc.RecommendationServiceStub(channel)
        self._channel, self._items = channel, items

    async def items(self, person_id: str, *, channel: str) -> list[dict[str, object]]:
        """The person's recommended items, best first, as a template sees them.

        Raises:
            Unavailable, FailedPrecondition: recommendation did not answer, or refused campaign.
        """
        request = rpb.RecommendRequest(person_id=person_id, k=self._items)
        request.context.placement = PLACEMENT.format(channel)
        try:
            reply = await self._stub.Recommend(request)
        except grpc.aio.AioRpcError as exc:
            raise failed("recommendation", "recommendations:read", exc) from exc
        return [_item(item) for item in reply.items]

    async def close(self) -> None:
        await self._channel.close(grace=None)


def _item(item: rpb.RecommendedItem) -> dict[str, object]:
    """The fields documented on bullseye.campaign.v1.Content (url and image_url: none known)."""
    return {
        "item_id": item.item_id, "title": item.title, "brand": item.brand,
        "category": " > ".join(item.category_path), "price": item.price.units + item.price.nanos / 1e9,
        "currency": item.price.currency_code, "url": "", "image_url": "",
    }  # fmt: skip
