"""Answers and registry entries as the contract's messages."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from bullseye.recommendation.v1 import facts_pb2
from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye_platform.timestamps import seconds_and_nanos
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import money_pb2

from bullseye_recommendation.domain.blend import Part
from bullseye_recommendation.registry.entries import ModelEntry
from bullseye_recommendation.serving.asks import COLD_START, Answer, Pick
from bullseye_recommendation.serving.impressions import Impression

REASONS = {
    Part.COLLABORATIVE: pb.REASON_COLLABORATIVE,
    Part.CONTENT: pb.REASON_CONTENT,
    Part.POPULAR: pb.REASON_POPULAR,
    Part.SESSION: pb.REASON_SESSION,
    COLD_START: pb.REASON_COLD_START,
}


def money(amount: float | None, currency: str) -> money_pb2.Money | None:
    if amount is None:
        return None
    units = math.floor(amount)
    return money_pb2.Money(currency_code=currency, units=units, nanos=round((amount - units) * 1e9))


def item(pick: Pick) -> pb.RecommendedItem:
    found = pick.item
    return pb.RecommendedItem(
        item_id=found.item_id, score=pick.score, reason=REASONS[pick.reason], title=found.title,
        category_path=found.category_path, brand=found.brand, price=money(found.price, found.currency),
    )  # fmt: skip


def items(answer: Answer) -> list[pb.RecommendedItem]:
    return [item(pick) for pick in answer.picks]


@dataclass(frozen=True)
class Rendered:
    """An answer as the response and its impression carry it, serialized once and kept with the
    ranking (serving/answers.py): a cached answer costs a parse, not a conversion, and bytes
    hold it in far less memory than message objects (each has an arena of its own)."""

    answer: Answer
    items: bytes  # a RecommendResponse holding the items only
    served: bytes  # a Served holding the items only

    @classmethod
    def of(cls, answer: Answer) -> Rendered:
        served = facts_pb2.Served(items=[
            facts_pb2.ServedItem(item_id=p.item.item_id, score=p.score, reason=REASONS[p.reason]) for p in answer.picks
        ])  # fmt: skip
        response = pb.RecommendResponse(items=items(answer))
        return cls(answer, response.SerializeToString(), served.SerializeToString())

    def response(self, *, recommendation_id: str, variant: str) -> pb.RecommendResponse:
        reply = pb.RecommendResponse.FromString(self.items)
        reply.recommendation_id, reply.variant = recommendation_id, variant
        reply.model_version, reply.person_id = self.answer.model_version, self.answer.person_id
        return reply

    def impression(self, *, recommendation_id: str, variant: str, placement: str, at: datetime) -> Impression:
        """This answer's impression as the batch writer takes it: the Served fact is made in the
        writer's batch, off the call path (serving/impressions.py)."""
        seconds, nanos = seconds_and_nanos(at)  # protobuf's FromDatetime took a tenth of a cached call
        answer = self.answer
        return Impression(self.served, recommendation_id, answer.person_id, variant, placement, answer.model_version,
                          seconds, nanos)  # fmt: skip


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def model(entry: ModelEntry) -> pb.ModelVersion:
    return pb.ModelVersion(
        version=entry.version, family=entry.family, metrics=dict(entry.metrics), data_from=timestamp(entry.data_from),
        data_to=timestamp(entry.data_to), checksum=entry.checksum, registered_at=timestamp(entry.registered_at),
        current=entry.current, published_at=timestamp(entry.published_at), items=entry.items,
    )  # fmt: skip
