"""Names derived from what they name, so that doing a thing again finds the thing done.

A send's idempotency key is (campaign, step, person, trigger occurrence): the same trigger
can never become two decisions. A message's id adds the channel (an ALL_REACHABLE send is one
message per channel); it is a UUIDv5 of those parts, usable as an HTTP Idempotency-Key and as
the left part of an email's Message-ID.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

STEP = "message"  # the one step a campaign has today (records.proto)
NAMESPACE = uuid.UUID("5b1c9a4e-6a83-4d5e-9f0e-2a1d7c3b8e41")
SEPARATOR = "|"


@dataclass(frozen=True)
class SendKey:
    campaign_id: str
    person_id: str
    occurrence_id: str
    step: str = STEP

    def job_key(self) -> str:
        return SEPARATOR.join((self.campaign_id, self.step, self.person_id, self.occurrence_id))

    def message_id(self, channel: int) -> str:
        return str(uuid.uuid5(NAMESPACE, SEPARATOR.join((self.job_key(), str(channel)))))


def campaign_jobs(campaign_id: str) -> str:
    """The LIKE pattern of every send job key of a campaign (its ids hold no LIKE wildcard but '-')."""
    return campaign_id + SEPARATOR + "%"


def broadcast_occurrence(run_at: datetime) -> str:
    return "broadcast:" + run_at.isoformat()


def segment_occurrence(segment_id: str, entered_at: datetime) -> str:
    return f"segment:{segment_id}:{entered_at.isoformat()}"


def owned_segment(campaign_id: str) -> str:
    """The id of the segment made from a campaign's inline rule (campaign ids are segment-id safe;
    one too long for the prefix is named by its hash)."""
    name = f"campaign-{campaign_id}"
    return name if len(name) <= 63 else "campaign-" + hashlib.sha256(campaign_id.encode()).hexdigest()[:40]
