"""Waits of "after an event, unless another": durable jobs that enter the person when they run out.

A wait is keyed by (campaign, person, what it waits on: the correlated value, "*" for any, or
the starting event for a plain delay); an `unless` event deletes it, an `after` event starts it
again (domain/journeys.py says which). Its payload is the entry it makes when it runs out.
"""

from __future__ import annotations

from datetime import datetime

from bullseye_platform import jobs
from bullseye_platform.jobs import Job
from bullseye_platform.store.pool import Connection

from bullseye_campaign.control import queues
from bullseye_campaign.delivery.entries import Entry, enter
from bullseye_campaign.domain.keys import SEPARATOR


def wait_key(campaign_id: str, person_id: str, waiting_on: str) -> str:
    return SEPARATOR.join((campaign_id, person_id, waiting_on))


async def cancel(conn: Connection, campaign_id: str, person_id: str, waiting_on: str) -> None:
    key = wait_key(campaign_id, person_id, waiting_on)
    await conn.execute("DELETE FROM scheduled_jobs WHERE queue = $1 AND key = $2", queues.WAIT, key)


async def start(conn: Connection, waiting_on: str, entry: Entry) -> None:
    """(Re)start the wait: the one running on the same thing is replaced."""
    await cancel(conn, entry.key.campaign_id, entry.key.person_id, waiting_on)
    key = wait_key(entry.key.campaign_id, entry.key.person_id, waiting_on)
    await jobs.schedule(conn, queue=queues.WAIT, key=key, due_at=entry.due_at, payload=entry.payload())


async def ran_out(conn: Connection, job: Job) -> datetime | None:
    """The WAIT queue's handler: the person enters now (decided by the send job)."""
    await enter(conn, [Entry.of(job)])
    return None
