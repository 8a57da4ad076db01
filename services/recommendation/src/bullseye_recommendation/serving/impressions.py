"""Impressions written to RECO in batches, off the call path, and what a crash lost, counted.

A Recommend call hands its `Served` fact to the writer and returns: the fact waits in memory
(and is noted in the process's spool, serving/spool.py) until a batch of `batch` facts, or
`flush` seconds, makes the writer append them to RECO in one atomic append (one fsync). A
failed append keeps them at the head of the queue and is tried again. A process that stops
writes what it holds first; one that is killed loses at most what it had not written, and the
next process to start on the same spool storage publishes an `impressions.lost` fact with
those answers (Nats-Msg-Id `lost:<spool id>`: counted once however often it is retried), so
the experiment report shows them.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from datetime import UTC, datetime
from pathlib import Path

from bullseye.recommendation.v1 import facts_pb2
from bullseye_platform.eventlog import AppendError, LogMessage, LogWriter, partition_of, subject_for
from bullseye_platform.jobs.wake import Backoff, Pass, WakeLoop

from bullseye_recommendation.serving.instruments import RecommendationInstruments
from bullseye_recommendation.serving.spool import Noted, Spool, orphans

log = logging.getLogger(__name__)
SERVED, LOST = "served", "impressions.lost"
RETRY = Backoff(first=0.5, most=5.0)


class ImpressionWriter:
    def __init__(
        self, *, writer: LogWriter, spool: Spool, subject_prefix: str, partitions: int, batch: int, flush: float,
        instruments: RecommendationInstruments,
    ) -> None:  # fmt: skip
        self._writer, self._spool, self._prefix, self._partitions = writer, spool, subject_prefix, partitions
        self._batch, self._instruments = batch, instruments
        self._queue: collections.deque[facts_pb2.Served] = collections.deque()
        self._loop = WakeLoop(name="impression writer", step=self._step, poll=flush, retry_on=(AppendError,),
                              backoff=RETRY)  # fmt: skip

    def record(self, served: facts_pb2.Served) -> None:
        """Queue one impression (the call path: a memory append and a spool line)."""
        self._spool.note(Noted(served.recommendation_id, served.variant, served.placement,
                               served.served_at.ToDatetime(tzinfo=UTC)))  # fmt: skip
        self._queue.append(served)
        if len(self._queue) >= self._batch:
            self._loop.wake()

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def write_once(self) -> int:
        """Append the oldest batch to RECO; returns how many (they stay queued if it fails).

        Raises:
            AppendError: RECO did not acknowledge them.
        """
        taken = [self._queue[n] for n in range(min(self._batch, len(self._queue)))]
        if not taken:
            return 0
        await self._writer.append([self._message(s) for s in taken])
        for _ in taken:
            self._queue.popleft()  # only now: a failed append leaves them at the head
        self._spool.written(len(taken), pending=len(self._queue))
        self._instruments.impressions("written", len(taken))
        self._instruments.pending(len(self._queue))
        return len(taken)

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

    def _message(self, served: facts_pb2.Served) -> LogMessage:
        key = served.person_id or served.recommendation_id
        subject = subject_for(self._prefix, partition_of(key, self._partitions), SERVED)
        payload = facts_pb2.RecoRecord(served=served).SerializeToString()
        return LogMessage(subject=subject, payload=payload, msg_id=f"served:{served.recommendation_id}")


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
