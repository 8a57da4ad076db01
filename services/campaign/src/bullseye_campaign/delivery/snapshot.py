"""What is true for a batch of persons right now, read at once: the inputs of the last-moment checks.

The send batch reads it inside its transaction, after locking the persons (so the caps'
count cannot change before the sends are recorded); Preview reads it without locks. Contacts
come from identity in one call per batch and are never stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye_platform.consent import ConsentState
from bullseye_platform.store.pool import Connection

from bullseye_campaign.adapters.identity_client import ADDRESSED, Contacts, IdentityClient
from bullseye_campaign.adapters.store import records, signals
from bullseye_campaign.adapters.store.records import Participant
from bullseye_campaign.adapters.store.signals import ExitMark
from bullseye_campaign.domain.caps import Send

DAY = timedelta(days=1)


@dataclass
class Snapshot:
    now: datetime
    members: set[tuple[str, str]] = field(default_factory=set)  # (segment, person)
    exits: dict[tuple[str, str], ExitMark] = field(default_factory=dict)  # (campaign, person)
    participants: dict[tuple[str, str], Participant] = field(default_factory=dict)  # (campaign, person)
    consent: dict[str, ConsentState] = field(default_factory=dict)
    zones: dict[str, str] = field(default_factory=dict)
    sends: dict[str, list[Send]] = field(default_factory=lambda: defaultdict(list))
    contacts: dict[str, Contacts] = field(default_factory=dict)

    def reserve(self, person_id: str, send: Send) -> None:
        """Count a send recorded in this batch, so the next decision for the person sees it."""
        self.sends[person_id].append(send)


async def read(
    conn: Connection, identity: IdentityClient, campaigns: Sequence[cpb.Campaign], pairs: Sequence[tuple[str, str]],
    *, now: datetime,
) -> Snapshot:  # fmt: skip
    """Everything the checks need for `pairs` of (campaign, person) under `campaigns`."""
    persons = sorted({person for _, person in pairs})
    segments = {s for c in campaigns for s in (_audience(c), *c.audience.exclude_segment_ids) if s}
    snapshot = Snapshot(now=now)
    snapshot.members = await signals.memberships(conn, persons, sorted(segments))
    snapshot.exits = await signals.exits(conn, pairs)
    snapshot.participants = await records.participants(conn, pairs)
    snapshot.consent = await signals.consent(conn, persons)
    snapshot.zones = await signals.zones(conn, persons)
    lifetime = [c.campaign_id for c in campaigns if c.limits.lifetime_cap]
    for person, send in await records.sends(conn, persons, since=now - _lookback(campaigns), lifetime_of=lifetime):
        snapshot.sends[person].append(send)
    addressed = any(c in ADDRESSED for campaign in campaigns for c in campaign.channels)
    snapshot.contacts = await identity.contacts(persons, addresses=addressed)
    return snapshot


def _audience(campaign: cpb.Campaign) -> str:
    return campaign.audience.segment_id or campaign.audience.owned_segment_id


def _lookback(campaigns: Sequence[cpb.Campaign]) -> timedelta:
    """The longest span any cap of `campaigns` counts over (a calendar day may start a day early
    in a far time zone)."""
    spans = [timedelta(0)]
    for campaign in campaigns:
        for cap in campaign.limits.caps:
            if cap.window.WhichOneof("kind") == "rolling":
                spans.append(cap.window.rolling.ToTimedelta())
            else:
                spans.append((cap.window.calendar_days + 1) * DAY)
    return max(spans)
