"""The envelope of every generated event: id, time, identifiers and context, from the visit."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bullseye.events.v1 import event_pb2 as ev
from google.protobuf.message import Message

from bullseye_devtools.traffic.devices import Device
from bullseye_devtools.traffic.seeds import uuid_from

SHOP = "https://shop.example.com"
PAYLOAD_FIELDS = {
    f.message_type.name: f.name for f in ev.Event.DESCRIPTOR.oneofs_by_name["payload"].fields if f.message_type
}
CAMPAIGNS = (
    ("google", "cpc", "brand-search"),
    ("newsletter", "email", "weekly-picks"),
    ("instagram", "social", "autumn-drop"),
    ("partner-blog", "referral", "gift-guide"),
)


@dataclass
class Visit:
    """One session on one device: its clock and the identity its events carry."""

    device: Device
    session_id: str
    at: datetime
    ip: str
    user_id: str = ""
    # A phone number the shopper gave to be recognised (at a till), instead of an account.
    phone: str = ""
    attribution: ev.Attribution | None = None
    page: ev.Page = field(default_factory=ev.Page)

    def wait(self, rng: random.Random, low: float = 4.0, high: float = 90.0) -> None:
        """Think time between two actions, log-spread: mostly seconds, sometimes a minute or more."""
        self.at += timedelta(seconds=low * (high / low) ** rng.random())

    def show(self, path: str, title: str) -> ev.Page:
        """Move to a page (web) or screen (apps); the previous one becomes the referrer."""
        url = f"{SHOP}{path}" if self.device.is_web else ""
        self.page = ev.Page(url=url, path=path, title=title, referrer=self.page.url)
        return self.page


def open_visit(rng: random.Random, device: Device, at: datetime, *, user_id: str = "", phone: str = "") -> Visit:
    """A new session; about a third arrive from a campaign (UTM tags), the rest direct or organic."""
    session_id = uuid_from(rng)  # before the IP: the generator's draws keep their order
    visit = Visit(
        device=device, session_id=session_id, at=at, ip=device.ip_for_visit(rng), user_id=user_id, phone=phone
    )
    if rng.random() < 0.3 and device.anonymous_id:
        source, medium, campaign = rng.choice(CAMPAIGNS)
        visit.attribution = ev.Attribution(utm_source=source, utm_medium=medium, utm_campaign=campaign)
    elif device.is_web and rng.random() < 0.4:
        visit.page = ev.Page(url="https://www.google.com/")
    return visit


def _context(visit: Visit) -> ev.Context:
    device = visit.device
    context = ev.Context(
        channel=device.channel,
        device=device.info,
        ip=visit.ip,
        user_agent=device.user_agent,
        locale=device.locale,
        timezone=device.timezone,
        page=visit.page,
        session_id=visit.session_id,
    )
    if visit.attribution is not None:
        context.attribution.CopyFrom(visit.attribution)
    return context


def stamp(rng: random.Random, visit: Visit, payload: Message) -> ev.Event:
    """A complete event for `payload`, happening now in `visit`."""
    device = visit.device
    event = ev.Event(
        event_id=uuid_from(rng),
        identifiers=ev.Identifiers(
            anonymous_id=device.anonymous_id, user_id=visit.user_id, device_id=device.device_id, phone=visit.phone
        ),
        context=_context(visit),
    )
    event.occurred_at.FromDatetime(visit.at)
    getattr(event, PAYLOAD_FIELDS[payload.DESCRIPTOR.name]).CopyFrom(payload)
    return event
