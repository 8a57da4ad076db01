"""Impressions written to RECO in batches, off the call path, and what a crash lost, counted.

A Recommend call hands its impression to the writer and returns: it waits in memory
(and is noted in the process's spool, serving/spool.py) until a batch of `batch` facts, or
`flush` seconds, makes the writer append them to RECO in one atomic append (one fsync), in
`ServedBatch` messages as large as the stream takes: what reads RECO pays per message (nats-py
parses each message's headers in Python; the projection folds each in a transaction), so
impressions travel by the hundred, cut by size (an answer of a hundred items is a hundred times
longer than one of one). A batch, once taken, is written as it was until
RECO acknowledges it (a retry carries the same messages under the same ids, so JetStream keeps
one copy). A process that stops writes what it holds first; one that is killed loses at most
what it had not written, and the next process to start on the same spool storage publishes an
`impressions.lost` fact with those answers (Nats-Msg-Id `lost:<spool id>`: counted once however
often it is retried), so the experiment report shows them.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bullseye.recommendation.v1 import facts_pb2
from bullseye_platform.eventlog import AppendError, LogMessage, LogWriter, partition_of, subject_for
from bullseye_platform.jobs.wake import Backoff, Pass, WakeLoop

from bullseye_recommendation.serving.instruments import RecommendationInstruments
from bullseye_recommendation.serving.spool import Spool, orphans

log = logging.getLogger(__name__)
SERVED, LOST = "served", "impressions.lost"
RETRY = Backoff(first=0.5, most=5.0)
HEADROOM = 2048  # bytes of a message left to its headers (id, atomic batch, trace context)
FRAMING = 8  # an impression's tag and length inside the batch, and the batch's own, at most


@dataclass(frozen=True, slots=True)
class Impression:
    """One answer's `Served` fact, not yet a message: the call path only keeps these fields, and
    the writer makes the fact inside its batch's message (one copy of each, not two)."""

    items: bytes  # a Served holding the answer's items only (api/convert.py's Rendered)
    recommendation_id: str
    person_id: str
    variant: str
    placement: str
    model_version: str
    seconds: int  # served at, since the epoch
    nanos: int

    def into(self, served: facts_pb2.Served) -> None:
        served.MergeFromString(self.items)
        served.recommendation_id, served.person_id = self.recommendation_id, self.person_id
        served.variant, served.placement, served.model_version = self.variant, self.placement, self.model_version
        served.served_at.seconds, served.served_at.nanos = self.seconds, self.nanos


class ImpressionWriter:
    def __init__(
        self, *, writer: LogWriter, spool: Spool, subject_prefix: str, partitions: int, batch: int, flush: float,
        message_bytes: int, instruments: RecommendationInstruments,
    ) -> None:  # fmt: skip
        """`message_bytes`: the most a message of the stream holds (its max_msg_size)."""
        self._writer, self._spool, self._prefix, self._partitions = writer, spool, subject_prefix, partitions
        self._batch, self._budget, self._instruments = batch, message_bytes - HEADROOM, instruments
        self._queue: collections.deque[Impression] = collections.deque()
        self._taken: list[LogMessage] = []  # the batch being written, as it will be until acknowledged
        self._taken_count = 0
        self._loop = WakeLoop(name="impression writer", step=self._step, poll=flush, retry_on=(AppendError,),
                              backoff=RETRY)  # fmt: skip

    def record(self, served: Impression) -> None:
        """Queue one impression (the call path: a memory append and a spool line)."""
        self._spool.note(served.recommendation_id, served.variant, served.placement,
                         served.seconds * 1000 + served.nanos // 1_000_000)  # fmt: skip
        self._queue.append(served)
        if len(self._queue) >= self._batch:
            self._loop.wake()

    @property
    def pending(self) -> int:
        return len(self._queue) + self._taken_count

    async def write_once(self) -> int:
        """Append the oldest batch to RECO; returns how many impressions (kept if it fails).

        Raises:
            AppendError: RECO did not acknowledge them.
        """
        if not self._taken:
            self._take()
        if not self._taken:
            return 0
        await self._writer.append(self._taken)
        written, self._taken, self._taken_count = self._taken_count, [], 0
        self._spool.written(written, pending=self.pending)
        self._instruments.impressions("written", written)
        self._instruments.pending(self.pending)
        return written

    def _take(self) -> None:
        """The oldest `batch` impressions, fixed as messages (ids derived from their content)."""
        taken = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
        self._taken, self._taken_count = self._messages(taken), len(taken)

    async def _step(self) -> Pass:
        written = await self.write_once()
        return Pass(more=written >= self._batch)

    async def run(self, stop: asyncio.Event) -> None:
        """Write batches until `stop`, then everything still queued (the spool goes with it)."""
        await self._loop.run(stop)
        try:
            while await self.write_once():
                pass
        except AppendError as exc:
            log.error("%d impressions not written at stop (counted lost at the next start): %s", self.pending, exc)
            return
        self._spool.close()

    def _messages(self, taken: list[Impression]) -> list[LogMessage]:
        """`taken` in order, in as few `ServedBatch` messages as the stream's message size allows
        (an impression is at most ~28 kB: a hundred items of 256 characters, text fields bounded)."""
        messages: list[LogMessage] = []
        record, first, used = facts_pb2.RecoRecord(), "", 0
        for impression in taken:
            served = record.served.impressions.add()
            impression.into(served)
            size = served.ByteSize() + FRAMING
            if used and used + size > self._budget:
                del record.served.impressions[-1]
                messages.append(self._message(record, first))
                record, used = facts_pb2.RecoRecord(), 0
                impression.into(record.served.impressions.add())
            if not used:  # the message's first impression names it (subject, id)
                first = impression.recommendation_id
            used += size
        if used:
            messages.append(self._message(record, first))
        return messages

    def _message(self, record: facts_pb2.RecoRecord, first: str) -> LogMessage:
        subject = subject_for(self._prefix, partition_of(first, self._partitions), SERVED)
        count = len(record.served.impressions)
        return LogMessage(subject=subject, payload=record.SerializeToString(), msg_id=f"served:{first}:{count}")


async def count_lost(
    folder: Path, writer: LogWriter, *, subject_prefix: str, instruments: RecommendationInstruments, now: datetime
) -> int:
    """Publish an `impressions.lost` fact for every dead process's spool in `folder`; returns
    how many impressions were lost.

    Raises:
        AppendError: RECO did not take a fact (the file is kept, for the next start).
    """
    total = 0
    for spool_id, lost in orphans(folder):
        if not lost:
            continue
        fact = facts_pb2.ImpressionsLost(spool_id=spool_id)
        for noted in lost:
            item = fact.impressions.add(recommendation_id=noted.recommendation_id, variant=noted.variant,
                                        placement=noted.placement)  # fmt: skip
            item.served_at.FromDatetime(noted.served_at)
        fact.counted_at.FromDatetime(now)
        payload = facts_pb2.RecoRecord(impressions_lost=fact).SerializeToString()
        subject = subject_for(subject_prefix, 0, LOST)  # rare: one partition keeps them in order
        await writer.append([LogMessage(subject=subject, payload=payload, msg_id=f"lost:{spool_id}")])
        instruments.impressions("lost", len(lost))
        log.warning("a serving process died with %d impressions not written: counted lost", len(lost))
        total += len(lost)
    return total
