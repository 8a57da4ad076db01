"""Realistic product views, pre-serialized so the load generator spends no CPU on protobuf.

An event's bytes are `event_id` (field 1, serialized first) followed by everything else,
so a request is spliced from fixed templates and fresh ids: a few microseconds per event.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator

from bullseye.events.v1 import event_pb2 as ev
from google.type.money_pb2 import Money

BATCH = 100  # events per TrackBatch call, as the benchmark asks
CATEGORIES = ["shoes", "outdoor", "kitchen", "beauty", "toys", "books", "garden", "electronics"]
LOCALES = [
    ("fr-FR", "Europe/Paris"),
    ("en-US", "America/New_York"),
    ("de-DE", "Europe/Berlin"),
    ("ja-JP", "Asia/Tokyo"),
]
DEVICES = [
    ("mobile", "Apple", "iPhone15,2", "iOS", "17.4"),
    ("mobile", "Samsung", "SM-S918B", "Android", "14"),
    ("desktop", "", "", "Windows", "11"),
    ("tablet", "Apple", "iPad13,1", "iPadOS", "17.3"),
]
AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Mobile/15E148"


def varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def product_view(rng: random.Random, now: float) -> ev.Event:
    """One product detail view with the context a web or app SDK sends."""
    shopper = rng.randrange(5000)
    product = rng.randrange(20000)
    category = rng.choice(CATEGORIES)
    locale, zone = rng.choice(LOCALES)
    kind, maker, model, os_name, os_version = rng.choice(DEVICES)
    event = ev.Event(identifiers=ev.Identifiers(anonymous_id=f"anon-{shopper:08d}-{shopper * 7919 % 99991:05d}"))
    event.occurred_at.FromNanoseconds(int((now - rng.random()) * 1e9))
    event.sent_at.FromNanoseconds(int(now * 1e9))
    ctx = event.context
    ctx.channel = ev.CHANNEL_APP if kind != "desktop" else ev.CHANNEL_WEB
    ctx.device.type, ctx.device.manufacturer, ctx.device.model = kind, maker, model
    ctx.device.os, ctx.device.os_version, ctx.device.app_version = os_name, os_version, "4.12.0"
    ctx.ip = f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    ctx.user_agent = AGENT
    ctx.locale, ctx.timezone = locale, zone
    ctx.session_id = f"s-{shopper:08d}-{rng.randrange(100):02d}"
    ctx.page.url = f"https://shop.example.com/{category}/p/{product:06d}"
    ctx.page.path = f"/{category}/p/{product:06d}"
    ctx.page.title = f"Product {product:06d} | {category.title()} | Example Shop"
    ctx.page.referrer = "https://shop.example.com/"
    if rng.random() < 0.3:
        ctx.attribution.utm_source, ctx.attribution.utm_medium = "newsletter", "email"
        ctx.attribution.utm_campaign = "spring-sale"
    view = event.product_viewed
    view.product_id, view.category = f"sku-{product:06d}", category
    view.price.CopyFrom(Money(currency_code="EUR", units=rng.randrange(5, 400), nanos=990_000_000))
    return event


class RequestFactory:
    """TrackBatchRequest bytes with unique event ids, spliced from templates."""

    def __init__(self, *, seed: int = 7, templates: int = 500, now: float | None = None) -> None:
        rng = random.Random(seed)
        moment = time.time() if now is None else now
        self._bodies = [product_view(rng, moment).SerializeToString() for _ in range(templates)]
        self._prefix = uuid.uuid4().hex[:24] + "-"
        self._next = 0

    def event(self) -> tuple[str, bytes]:
        """A new event id and the event's bytes."""
        number = self._next
        self._next += 1
        event_id = f"{self._prefix}{number:011d}"
        raw_id = event_id.encode()
        return event_id, b"\x0a" + varint(len(raw_id)) + raw_id + self._bodies[number % len(self._bodies)]

    def _field(self) -> bytes:
        event = self.event()[1]
        return b"\x0a" + varint(len(event)) + event  # TrackBatchRequest.events, field 1

    def request(self, events: int) -> bytes:
        """One TrackBatchRequest of `events` new events, serialized."""
        return b"".join([self._field() for _ in range(events)])

    def requests(self, count: int, events: int) -> Iterator[bytes]:
        for _ in range(count):
            yield self.request(events)
