"""Entering a person: a durable send job, decided at its due time (sending.py).

Whatever enters a person (an event, a segment entry, a wait that ran out, a broadcast) schedules
one job keyed by the send's idempotency key, in the transaction of its cause: a cause seen
again schedules nothing new, and a job already decided finds its decision recorded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bullseye_platform import jobs
from bullseye_platform.jobs import Job
from bullseye_platform.store.pool import Connection

from bullseye_campaign.control import queues
from bullseye_campaign.domain.keys import SendKey, campaign_jobs


@dataclass(frozen=True)
class Entry:
    """A person entering a campaign for one trigger occurrence, decided at `due_at`."""

    key: SendKey
    triggered_at: datetime
    due_at: datetime
    trigger: Mapping[str, object] = field(default_factory=dict)  # what a template sees as `trigger`

    def payload(self) -> bytes:
        return json.dumps({
            "c": self.key.campaign_id, "p": self.key.person_id, "o": self.key.occurrence_id, "s": self.key.step,
            "t": self.triggered_at.isoformat(), "g": dict(self.trigger),
        }).encode()  # fmt: skip

    @classmethod
    def of(cls, job: Job) -> Entry:
        data = json.loads(job.payload)
        key = SendKey(data["c"], data["p"], data["o"], data["s"])
        return cls(key, datetime.fromisoformat(data["t"]), job.due_at, data["g"])


async def enter(conn: Connection, entries: Sequence[Entry]) -> int:
    """Schedule the entries' sends (a key scheduled already is kept); returns how many are new."""
    scheduled = [(e.key.job_key(), e.due_at, e.payload()) for e in entries]
    return await jobs.schedule_many(conn, queue=queues.SEND, scheduled=scheduled)


async def undecided(conn: Connection, campaign_id: str) -> int:
    """Persons entered in the campaign whose send job has not decided yet."""
    found: int = await conn.fetchval(
        "SELECT count(*) FROM scheduled_jobs WHERE queue = $1 AND key LIKE $2", queues.SEND, campaign_jobs(campaign_id)
    )
    return found
