"""GetProfile's stored bases kept in the process, dropped the moment PostgreSQL says they changed.

A read from a stored base (bases.py) is one round trip, and that round trip was a fifth
of GetProfile's CPU. The cache holds what the read returns, per id asked for, and is told of
every change by NOTIFY: the projection's `bases.invalidate` names the persons of each
batch, an RFM recompute or a TRUNCATE (rebuild) says '*' (migration 0360). A base still
carries its own validity (computed_at, valid_until, fingerprint), checked on every hit, so
time alone never needs an invalidation.

Three rules keep it from ever answering with a base older than a change it could know of:
- **No notifications, no cache.** While the LISTEN is down (store.listen), nothing is served
  or kept; when it is back everything is dropped, since what it missed is unknown.
- **A read that overlapped a change is not kept.** A read takes the epoch (the count of
  changes so far) before its query; its result is kept only if no change to that person
  arrived since. Recent changes are remembered per person, older ones by a floor.
- **This process's own writes are known before they commit.** The projection and the RFM
  recompute mark what they change (`changing`) inside their transaction; until the commit's
  notification arrives, those persons are read from PostgreSQL. So whoever sees a commit of
  this process, and then asks it, sees the commit too. Writes of other processes (profile
  workers that split the partitions) reach this cache with their notification, within the
  milliseconds PostgreSQL takes to deliver it.
"""

from __future__ import annotations

import contextlib
import json
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from bullseye_platform.instruments.tally import tally
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from bullseye_profile.reading.fold import Standing

EVERYONE = "*"  # the payload of a change to every person
CHANNEL_PREFIX = "bullseye_profile_bases:"  # + schema; what bases.invalidate and 0360 notify
REMEMBERED_CHANGES = 65_536  # persons whose last change is remembered exactly (the rest: a floor)
HIT, MISS = {"result": "hit"}, {"result": "miss"}


@dataclass(frozen=True, slots=True)
class CachedBase:
    """What a read from a stored base needs: the survivor, its base, and its live standing."""

    owner: str
    base: bytes
    fingerprint: str
    computed_at: datetime
    valid_until: datetime | None
    standing: Standing

    def usable(self, now: datetime, fingerprint: str) -> bool:
        """Built by this code and policy, and still what a fold as of `now` would give."""
        if self.fingerprint != fingerprint or self.computed_at > now:
            return False
        return self.valid_until is None or now < self.valid_until


class ReadCache:
    """Bases by the id they were asked for, least recently used dropped first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, CachedBase] = OrderedDict()
        self._keys_by_owner: dict[str, set[str]] = {}
        self._live = False
        self._changes = 0  # changes heard of so far: a read's epoch
        self._changed_at: OrderedDict[str, int] = OrderedDict()  # person -> the change that last touched it
        self._floor = 0  # every change forgotten from _changed_at is at or below it
        self._changing: set[str] = set()
        self._everyone_changing = False
        described = "GetProfile bases looked up in the process, by result"
        lookups = tally("bullseye.profile", "profile_read_cache_lookups", description=described)
        self._hits, self._misses = lookups.bind(HIT), lookups.bind(MISS)
        metrics.get_meter("bullseye.profile").create_observable_gauge(
            "profile_read_cache_entries", callbacks=[self._observe_entries],
            description="GetProfile bases this process holds (0 while its LISTEN is down: nothing is kept)",
        )  # fmt: skip

    def _observe_entries(self, _: CallbackOptions) -> Iterable[Observation]:
        return [Observation(len(self._entries))]

    def get(self, person_id: str) -> CachedBase | None:
        entry = self._entries.get(person_id) if self._serving(person_id) else None
        if entry is None or entry.owner in self._changing:
            self._misses.add()
            return None
        self._entries.move_to_end(person_id)
        self._hits.add()
        return entry

    def epoch(self) -> int:
        """Take before reading; `put` refuses the result if the person changed meanwhile."""
        return self._changes

    def put(self, person_id: str, entry: CachedBase, epoch: int) -> None:
        if not self._serving(person_id) or entry.owner in self._changing:
            return
        if epoch < self._floor or any(self._changed_at.get(p, -1) > epoch for p in (person_id, entry.owner)):
            return
        self._drop(person_id)
        self._entries[person_id] = entry
        self._keys_by_owner.setdefault(entry.owner, set()).add(person_id)
        if len(self._entries) > self.capacity:
            self._drop(next(iter(self._entries)))

    @contextlib.contextmanager
    def changing(self, person_ids: Collection[str] | None) -> Iterator[None]:
        """Around a write of this process to `person_ids` (None: everyone), inside its transaction.

        The persons stay marked after the block, until the commit's notification; should the
        block raise (the transaction rolls back), the mark is lifted at once.
        """
        if not self._live:  # nothing is served, and going live forgets everything
            yield
            return
        if person_ids is None:
            self._everyone_changing = True
            self._forget_everything()
        else:
            self._changing.update(person_ids)
            self._changed(person_ids)
        try:
            yield
        except BaseException:
            if person_ids is None:
                self._everyone_changing = False
            else:
                self._changing.difference_update(person_ids)
            raise

    def on_notify(self, payload: str) -> None:
        """A committed change: '*' or a JSON array of person ids (bases.invalidate)."""
        if payload == EVERYONE:
            self._everyone_changing = False
            self._changing.clear()
            self._forget_everything()
            return
        ids = json.loads(payload)
        self._changing.difference_update(ids)
        self._changed(ids)

    def on_live(self, live: bool) -> None:
        """The LISTEN is in place (True) or lost (False); either way, what was heard before is void."""
        self._live = live
        if not live:  # marks of writes in flight are lifted: nothing is served until live again
            self._everyone_changing = False
            self._changing.clear()
        self._forget_everything()

    def _serving(self, person_id: str) -> bool:
        return self._live and not self._everyone_changing and person_id not in self._changing

    def _changed(self, person_ids: Iterable[str]) -> None:
        self._changes += 1
        for person_id in person_ids:
            self._changed_at[person_id] = self._changes
            self._changed_at.move_to_end(person_id)
            self._drop(person_id)
            for key in list(self._keys_by_owner.get(person_id, ())):
                self._drop(key)
        while len(self._changed_at) > REMEMBERED_CHANGES:
            _, forgotten = self._changed_at.popitem(last=False)
            self._floor = max(self._floor, forgotten)

    def _forget_everything(self) -> None:
        self._changes += 1
        self._floor = self._changes
        self._changed_at.clear()
        self._entries.clear()
        self._keys_by_owner.clear()

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        keys = self._keys_by_owner.get(entry.owner)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_by_owner[entry.owner]
