"""The decision at the last moment, for a batch of sends in one transaction (the SEND queue).

In the claim's transaction: the campaigns' rows are read FOR SHARE (a Pause waits for the batch,
and the next batch sees it), persons are followed to who they are now and locked, then every
check reads campaign's own tables as they are (audience, exits, arms, consent, time zones,
the caps' count) and identity's contacts; each send is decided in order, reserving its caps
in memory for the sends after it, and the batch's records are written before the commit.
A send decided already (a job run again after a crash) is not decided twice; a paused
campaign's sends look again later; held ones come back when quiet hours end.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye_platform import persons
from bullseye_platform.jobs import Job
from bullseye_platform.store.pool import Connection

from bullseye_campaign.adapters.facts import Facts
from bullseye_campaign.adapters.identity_client import IdentityClient
from bullseye_campaign.adapters.store import campaigns, records
from bullseye_campaign.delivery import snapshot
from bullseye_campaign.delivery.entries import Entry
from bullseye_campaign.delivery.instruments import DeliveryInstruments
from bullseye_campaign.delivery.recording import Book
from bullseye_campaign.delivery.situation import situation
from bullseye_campaign.domain.assignment import StableHash
from bullseye_campaign.domain.decision import decide
from bullseye_campaign.domain.keys import SendKey

S = cpb.CampaignState
WAITING = (S.CAMPAIGN_STATE_DRAFT, S.CAMPAIGN_STATE_SCHEDULED, S.CAMPAIGN_STATE_PAUSED)
Again = dict[str, datetime | None]


class Sender:
    def __init__(
        self, *, identity: IdentityClient, facts: Facts, hasher: StableHash, clock: Callable[[], datetime],
        paused_recheck: float, instruments: DeliveryInstruments,
    ) -> None:  # fmt: skip
        self._identity, self._facts, self._hasher, self._clock = identity, facts, hasher, clock
        self._instruments = instruments
        self._recheck = timedelta(seconds=paused_recheck)

    async def decide_batch(self, conn: Connection, claimed: Sequence[Job]) -> Again:
        """Decide every claimed send; returns, per job, when it runs again (held, paused) or None."""
        now = self._clock()
        entries = {job.key: Entry.of(job) for job in claimed}
        stored = await campaigns.many(conn, [e.key.campaign_id for e in entries.values()], lock="SHARE")
        again: Again = {}
        live: list[tuple[str, Entry, cpb.Campaign]] = []
        for job_key, entry in entries.items():
            found = stored.get(entry.key.campaign_id)
            if found is None:
                again[job_key] = None
            elif found.campaign.state in WAITING:
                again[job_key] = now + self._recheck
            else:
                live.append((job_key, entry, found.campaign))
        if live:
            again.update(await self._decide(conn, live, now))
        return again

    async def _decide(self, conn: Connection, live: list[tuple[str, Entry, cpb.Campaign]], now: datetime) -> Again:
        await persons.lock_aliases(conn, exclusive=False)  # no merge moves these persons' rows meanwhile
        owner = await persons.canonical(conn, [entry.key.person_id for _, entry, _ in live])
        sends = [(job_key, _owned(entry, owner), entry, c) for job_key, entry, c in live]
        await records.lock_persons(conn, [key.person_id for _, key, _, _ in sends])
        done = await records.decided(conn, [key for _, key, _, _ in sends])
        again: Again = {}
        todo = []
        for job_key, key, entry, campaign in sends:
            again[job_key] = None
            if key not in done:  # decided before, or twice in this batch (merged persons)
                done.add(key)
                todo.append((job_key, key, entry, campaign))
        if not todo:
            return again
        pairs = sorted({(key.campaign_id, key.person_id) for _, key, _, _ in todo})
        unique = {c.campaign_id: c for _, _, _, c in todo}
        seen = await snapshot.read(conn, self._identity, list(unique.values()), pairs, now=now)
        book, tally = Book(self._facts, now), Counter[tuple[int, int]]()
        for job_key, key, entry, campaign in todo:
            found = situation(self._hasher, campaign, key, entry.triggered_at, seen)
            verdict = decide(found)
            tally[verdict.outcome, verdict.reason] += 1
            again[job_key] = book.add(campaign, key, verdict, arm=found.arm, trigger=entry.trigger,
                                      snapshot=seen)  # fmt: skip
        await book.write(conn)
        for (outcome, reason), count in tally.items():
            self._instruments.decided(outcome, reason, count)
        return again


def _owned(entry: Entry, owner: dict[str, str]) -> SendKey:
    """The send under the person's id now (a merged person's sends are the survivor's)."""
    return dataclasses.replace(entry.key, person_id=owner[entry.key.person_id])
