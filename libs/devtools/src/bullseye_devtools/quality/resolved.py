"""The RESOLVED stream folded into each event's final person.

A ResolvedEvent names the person at the time; a later PersonsMerged folds that person into
its survivor, and a PersonSplit moves named events to a new person. Applying the records in
stream order and following survivors at the end gives the clusters identity stands by now.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from bullseye.identity.v1 import resolved_pb2 as rpb
from nats.aio.client import Client as NATS
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

FETCH = 1000


@dataclass
class Resolution:
    person_of: dict[str, str] = field(default_factory=dict)  # event id -> person when resolved (or split)
    survivor: dict[str, str] = field(default_factory=dict)  # merged person -> the one it was folded into
    merge_rules: Counter[str] = field(default_factory=Counter)
    splits: int = 0
    records: int = 0

    @property
    def merges(self) -> int:
        return sum(self.merge_rules.values())

    def apply(self, record: rpb.ResolvedRecord) -> None:
        self.records += 1
        kind = record.WhichOneof("kind")
        if kind == "event":
            self.person_of[record.event.event.event_id] = record.event.person_id
        elif kind == "merged":
            self.survivor[record.merged.merged_person_id] = record.merged.survivor_person_id
            self.merge_rules[record.merged.rule or record.merged.reason] += 1
        elif kind == "split":
            self.splits += 1
            for event_id in record.split.moved_event_ids:
                self.person_of[event_id] = record.split.new_person_id

    def final_person(self, person: str) -> str:
        seen = {person}
        while (person := self.survivor.get(person, person)) not in seen:
            seen.add(person)
        return person

    def final(self) -> dict[str, str]:
        """Event id -> the person it belongs to after every merge and split."""
        return {event_id: self.final_person(person) for event_id, person in self.person_of.items()}


async def read_resolved(
    nc: NATS,
    *,
    expect_events: int,
    stream: str = "RESOLVED",
    subjects: str = "resolved.>",
    stall: float = 60.0,
    settle: float = 1.0,
) -> Resolution:
    """Read the stream from its start until it holds `expect_events` resolved events and then
    nothing new arrives for `settle` seconds (merge facts trail their events).

    Raises:
        TimeoutError: no new record for `stall` seconds before that; the message says how far it got.
    """
    config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=60.0)
    sub = await nc.jetstream().pull_subscribe(subjects, stream=stream, config=config)
    resolution, last_new = Resolution(), time.monotonic()
    try:
        while True:
            try:
                msgs = await sub.fetch(FETCH, timeout=min(settle, 1.0))
            except (TimeoutError, NatsTimeoutError):
                msgs = []
            for msg in msgs:
                resolution.apply(rpb.ResolvedRecord.FromString(msg.data))
            quiet = time.monotonic() - last_new
            if msgs:
                last_new = time.monotonic()
            elif len(resolution.person_of) >= expect_events and quiet >= settle:
                return resolution
            elif quiet >= stall:
                raise TimeoutError(
                    f"{stream}: {len(resolution.person_of):,} of {expect_events:,} events resolved, "
                    f"nothing new for {stall:.0f}s"
                )
    finally:
        await sub.unsubscribe()
