"""Rankings kept in the process until something they were made from changes.

A Recommend answer is made from the person's rows (one round trip to PostgreSQL), the
model (an onnxruntime run: most of a call's CPU for a MovieLens-sized model) and the
catalog snapshot. Asked again with the same request, while none of the three changed, the
same ranking comes out; so each process keeps the rankings it made (the picks only: every
answer still gets its own recommendation id and impression) and drops them when:
- the person changed: the projection notifies, at the commit of each batch, the persons it
  touched (projections/changes.py; merges and splits name every person involved);
- the model or the snapshot changed: each ranking records the model version and the
  snapshot generation it was made with, and is valid only while both are the current ones.

As in profile's read cache, nothing is kept while the LISTEN is down (a change could be
missed), everything is dropped when it is back, and a ranking whose computation overlapped a
change of its person is not kept: a call takes the epoch (the count of changes heard so far)
before it reads, and keeps its result only if no change to that person arrived since. And the
projection, which runs in the first serving process, `hold`s the persons of a batch before its
commit: until the commit's notification arrives, they are ranked afresh, so whoever saw the
commit (a test's wait, a caller) never gets this process's older ranking. Other processes
learn of a change with its notification, within the milliseconds PostgreSQL takes.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Collection, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from opentelemetry import metrics

from bullseye_recommendation.projections.changes import EVERYONE
from bullseye_recommendation.serving.instruments import observed

REMEMBERED_CHANGES = 65_536  # persons whose last change is remembered exactly (the rest: a floor)
Basis = tuple[int, str]  # (snapshot generation, model version) an answer was made with
T = TypeVar("T")  # what is kept of a ranking (the answer, rendered as the caller needs it)


@dataclass(frozen=True, slots=True)
class _Kept(Generic[T]):
    answer: T
    basis: Basis
    persons: tuple[str, ...]
    since: int  # the epoch its computation started at


class AnswerCache(Generic[T]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._kept: OrderedDict[Hashable, _Kept[T]] = OrderedDict()
        self._changed: OrderedDict[str, int] = OrderedDict()  # person -> epoch of their last change
        self._floor = 0  # every change not remembered exactly happened at or before it
        self._epoch = 0
        self._live = False
        self._held: set[str] = set()  # changed by this process's uncommitted transaction
        self._lookups: Counter[str] = Counter()
        metrics.get_meter("bullseye.recommendation").create_observable_counter(
            "recommendation_answer_cache_lookups", callbacks=[observed(self._lookups, "result")],
            description="rankings asked of the process's cache, by result",
        )  # fmt: skip

    @property
    def epoch(self) -> int:
        return self._epoch

    def get(self, key: Hashable, basis: Basis) -> T | None:
        kept = self._kept.get(key)
        if kept is None or kept.basis != basis or any(self._stale(p, kept.since) for p in kept.persons):
            self._lookups["miss"] += 1
            return None
        self._kept.move_to_end(key)
        self._lookups["hit"] += 1
        return kept.answer

    def put(self, key: Hashable, answer: T, *, basis: Basis, persons: Collection[str], since: int) -> None:
        """Keep `answer`, made from what was current at epoch `since`, unless one of `persons`
        changed since then (or the cache cannot hear of changes now)."""
        if not self._live or self.capacity <= 0 or any(self._stale(p, since) for p in persons):
            return
        self._kept[key] = _Kept(answer, basis, tuple(persons), since)
        self._kept.move_to_end(key)
        while len(self._kept) > self.capacity:
            self._kept.popitem(last=False)

    def hold(self, persons: Collection[str]) -> None:
        """`persons` are changing in a transaction of this process: serve none of their rankings
        until the notification of its commit (`on_notify`) is heard."""
        self._held.update(persons)
        self._mark(persons)

    def on_notify(self, persons: Collection[str]) -> None:
        """A change of `persons` (EVERYONE among them: of every person, e.g. a rebuild). A kept
        ranking of theirs is no longer served (checked at `get`, and evicted in its turn)."""
        if EVERYONE in persons:
            self._epoch += 1
            self._floor = self._epoch
            self._kept.clear()
            self._held.clear()
            return
        self._held.difference_update(persons)
        self._mark(persons)

    def _mark(self, persons: Collection[str]) -> None:
        self._epoch += 1
        for person in persons:
            self._changed[person] = self._epoch
            self._changed.move_to_end(person)
        while len(self._changed) > REMEMBERED_CHANGES:
            _, epoch = self._changed.popitem(last=False)
            self._floor = max(self._floor, epoch)

    def on_live(self, live: bool) -> None:
        """While the LISTEN is down nothing is kept; when it is back, what it missed is unknown."""
        self._live = live
        self._epoch += 1
        self._floor = self._epoch
        self._kept.clear()
        self._held.clear()

    def _stale(self, person: str, since: int) -> bool:
        """Whether `person` changed after epoch `since`, or is changing now."""
        return person in self._held or self._changed.get(person, self._floor) > since
