"""The part of the graph one transaction touches: loaded in a few queries, changed in
memory, written back in a few statements.

Row-at-a-time SQL would cost several round trips per event; a batch of events instead
loads every identifier it names at once, resolves in memory, and flushes with `unnest`.
Invariants kept here: an identifier always points at a live person (merges repoint them),
and `persons.merged_into` always names the final survivor (merges repoint earlier merges).
Callers hold the graph lock (see `graph.lock`), so nothing else changes these rows meanwhile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bullseye_platform.eventlog import LogMessage
from bullseye_platform.outbox import emit_many
from bullseye_platform.store.pool import Connection

from bullseye_identity.domain.decide import PersonView
from bullseye_identity.domain.kinds import Key, encode_key, encode_keys
from bullseye_identity.graph import sql


@dataclass
class IdentRow:
    person_id: str
    first_seen: datetime
    last_seen: datetime
    source: str
    # Seen in an event with a user id on its person (see migrations/0120_evidence.sql).
    strong: bool = False
    # How it joined, written when it joins: the event and the identifier it came through.
    cause_event_id: str = ""
    via: Key = ("", "")


@dataclass
class PersonRow:
    person_id: str
    created_seq: int
    created_at: datetime
    merged_into: str | None
    counts: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class HistoryRow:
    person_id: str
    kind: str
    other_person_id: str
    survivor: bool
    reason: str
    rule: str
    cause_event_id: str
    occurred_at: datetime
    # A row with this key is written only the first time the key is seen (conflict_pairs).
    once: tuple[str, str, str] | None = None
    # A merge's evidence (the identifier it came through, the event's strength); the value
    # marked shared, or that caused an automatic split.
    identifier: Key = ("", "")
    strength: str = ""


@dataclass(frozen=True)
class ResolutionRow:
    event_id: str
    person_id: str
    events_seq: int
    primary: Key
    keys: Sequence[Key] = ()  # every identifier the event was resolved by, priority order


class Workset:
    """Load with `load_keys`/`load_persons`, change through the methods, then `flush()`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.idents: dict[Key, IdentRow] = {}
        self._keys_of: dict[str, set[Key]] = {}  # loaded identifiers by person
        self.persons: dict[str, PersonRow] = {}
        self.shared: set[Key] = set()
        self.claims: dict[Key, set[str]] = {}
        self.resolved: set[str] = set()
        self._folded: dict[str, str] = {}  # merged person -> its final survivor, this batch
        self._new_claims: list[tuple[Key, str]] = []
        self._new_shared: list[tuple[Key, int, str, str]] = []  # key, persons, cause event, reason
        self.newly_shared: list[Key] = []  # by too many persons' claims: their persons heal after the event
        self._dirty_idents: set[Key] = set()
        self._dirty_persons: set[str] = set()
        self._resolutions: list[ResolutionRow] = []
        self._history: list[HistoryRow] = []
        self._outbox: list[LogMessage] = []

    async def load_keys(self, keys: Iterable[Key], event_ids: Sequence[str] = ()) -> None:
        """Identifiers (and their persons), shared values and already resolved events."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self.idents]
        types, values = [k[0] for k in wanted], [k[1] for k in wanted]
        for r in await self.conn.fetch(sql.IDENTIFIERS_BY_KEY, types, values):
            key = (r["id_type"], r["id_value"])
            self.idents[key] = IdentRow(r["person_id"], r["first_seen"], r["last_seen"], r["source"], r["strong"])
            self._keys_of.setdefault(r["person_id"], set()).add(key)
        self.shared.update((r["id_type"], r["id_value"]) for r in await self.conn.fetch(sql.SHARED, types, values))
        for r in await self.conn.fetch(sql.CLAIMS_BY_KEY, types, values):
            self.claims.setdefault((r["id_type"], r["id_value"]), set()).add(r["person_id"])
        if event_ids:
            self.resolved.update(r["event_id"] for r in await self.conn.fetch(sql.RESOLVED, list(event_ids)))
        await self.load_persons({self.idents[k].person_id for k in wanted if k in self.idents})

    async def load_persons(self, person_ids: Iterable[str]) -> None:
        wanted = [p for p in person_ids if p not in self.persons]
        if not wanted:
            return
        for r in await self.conn.fetch(sql.PERSONS, wanted):
            person = PersonRow(r["person_id"], r["created_seq"], r["created_at"], r["merged_into"])
            self.persons[person.person_id] = person
        for r in await self.conn.fetch(sql.COUNTS, wanted):
            self.persons[r["person_id"]].counts[r["id_type"]] = r["n"]

    def owner(self, key: Key) -> str | None:
        row = self.idents.get(key)
        return None if row is None else row.person_id

    def view(self, person_id: str) -> PersonView:
        row = self.persons[person_id]
        return PersonView(person_id, row.created_seq, row.counts)

    def create_person(self, person_id: str, *, seq: int, at: datetime) -> None:
        self.persons[person_id] = PersonRow(person_id, seq, at, None)
        self._dirty_persons.add(person_id)

    def attach(self, key: Key, person_id: str, *, seen: datetime, source: str, cause_event_id: str, via: Key) -> None:
        """A new identifier of `person_id` (the caller checked the limits), joined by
        `cause_event_id` through `via` (none: created with the person)."""
        self.idents[key] = IdentRow(person_id, seen, seen, source, cause_event_id=cause_event_id, via=via)
        self._keys_of.setdefault(person_id, set()).add(key)
        self.persons[person_id].counts[key[0]] += 1
        self._dirty_idents.add(key)

    def touch(self, key: Key, *, seen: datetime, strong: bool) -> None:
        """`key` seen on its person again, in an event with a user id if `strong`."""
        row = self.idents[key]
        if seen > row.last_seen or seen < row.first_seen or (strong and not row.strong):
            row.last_seen, row.first_seen = max(row.last_seen, seen), min(row.first_seen, seen)
            row.strong = row.strong or strong
            self._dirty_idents.add(key)

    def merge(self, survivor: str, merged: str) -> None:
        """Fold `merged` into `survivor`: in the loaded rows now, in the rest of the database
        at `flush()` (one statement for all the batch's merges, not two per merge)."""
        earlier = [d for d, s in self._folded.items() if s == merged]
        for person_id in [*earlier, merged]:
            self._folded[person_id] = survivor
            if (person := self.persons.get(person_id)) is not None:
                person.merged_into = survivor
                self._dirty_persons.add(person_id)
        moved = self._keys_of.pop(merged, set())
        for key in moved:
            self.idents[key].person_id = survivor
        self._keys_of.setdefault(survivor, set()).update(moved)
        self._dirty_idents.update(moved)
        self.persons[survivor].counts.update(self.persons[merged].counts)
        self.persons[merged].counts.clear()

    def claim(self, key: Key, persons: Sequence[str], *, limit: int) -> bool:
        """Record that `persons` use `key` (a loaded key); True when that makes more than
        `limit` persons for a value not shared yet."""
        if key in self.shared:
            return False
        claimed = self.claims.setdefault(key, set())
        self._new_claims.extend((key, p) for p in persons if p not in claimed)
        claimed.update(persons)
        return len(claimed) > limit

    def mark_shared(self, key: Key, *, persons: int, cause_event_id: str, reason: str) -> bool:
        """`key` links nobody from now on; False when it was shared already."""
        if key in self.shared:
            return False
        self._new_shared.append((key, persons, cause_event_id, reason))
        self.shared.add(key)
        return True

    def add_history(self, row: HistoryRow) -> None:
        self._history.append(row)

    def add_resolution(self, row: ResolutionRow) -> None:
        self.resolved.add(row.event_id)
        self._resolutions.append(row)

    def emit(self, message: LogMessage) -> None:
        """Queue a fact for the outbox; facts keep the order of these calls."""
        self._outbox.append(message)

    def forget(self, person_ids: Iterable[str]) -> list[Key]:
        """Drop the loaded rows of these persons and of their identifiers, changed in the
        database behind the workset's back (a healing split, after a `flush`); returns the
        identifiers, for `load_keys` to load again."""
        keys: list[Key] = []
        for person_id in person_ids:
            keys += sorted(self._keys_of.pop(person_id, set()))
            self.persons.pop(person_id, None)
        for key in keys:
            self.idents.pop(key, None)
        return keys

    async def flush(self) -> None:
        """Write every change, in one statement per table; the workset goes on from there."""
        if self._folded:
            merged, survivors = list(self._folded), list(self._folded.values())
            await self.conn.execute(sql.REPOINT_IDENTIFIERS, merged, survivors)
            await self.conn.execute(sql.REPOINT_PERSONS, merged, survivors)
        persons = [self.persons[p] for p in sorted(self._dirty_persons)]
        if persons:
            await self.conn.execute(
                sql.UPSERT_PERSONS, [p.person_id for p in persons], [p.created_seq for p in persons],
                [p.created_at for p in persons], [p.merged_into for p in persons],
            )  # fmt: skip
        keys = sorted(self._dirty_idents)
        rows = [self.idents[k] for k in keys]
        if keys:
            await self.conn.execute(
                sql.UPSERT_IDENTIFIERS, [k[0] for k in keys], [k[1] for k in keys], [r.person_id for r in rows],
                [r.first_seen for r in rows], [r.last_seen for r in rows], [r.source for r in rows],
                [r.strong for r in rows], [r.cause_event_id for r in rows], [encode_key(r.via) for r in rows],
            )  # fmt: skip
        res = self._resolutions
        if res:
            await self.conn.execute(
                sql.INSERT_RESOLUTIONS, [r.event_id for r in res], [r.person_id for r in res],
                [r.events_seq for r in res], [r.primary[0] for r in res], [r.primary[1] for r in res],
                [encode_keys(r.keys) for r in res],
            )  # fmt: skip
        await self._flush_history()
        await self._flush_claims()
        await emit_many(self.conn, self._outbox)
        for pending in (self._folded, self._dirty_idents, self._dirty_persons):
            pending.clear()
        for written in (self._resolutions, self._history, self._new_claims, self._new_shared, self._outbox):
            written.clear()

    async def _flush_claims(self) -> None:
        if self._new_claims:
            claims = self._new_claims
            await self.conn.execute(
                sql.CLAIM, [k[0] for k, _ in claims], [k[1] for k, _ in claims], [p for _, p in claims]
            )
        if self._new_shared:
            rows = self._new_shared
            await self.conn.execute(
                sql.MARK_SHARED, [r[0][0] for r in rows], [r[0][1] for r in rows], [r[1] for r in rows],
                [r[2] for r in rows], [r[3] for r in rows],
            )  # fmt: skip

    async def _flush_history(self) -> None:
        h = await self._first_times(self._history)
        if not h:
            return
        await self.conn.execute(
            sql.INSERT_HISTORY, [r.person_id for r in h], [r.kind for r in h], [r.other_person_id for r in h],
            [r.survivor for r in h], [r.reason for r in h], [r.rule for r in h], [r.cause_event_id for r in h],
            [r.occurred_at for r in h], [encode_key(r.identifier) for r in h], [r.strength for r in h],
        )  # fmt: skip

    async def _first_times(self, rows: list[HistoryRow]) -> list[HistoryRow]:
        """`rows` without the `once` rows whose key was seen before (in this batch or earlier)."""
        keys = list(dict.fromkeys(r.once for r in rows if r.once is not None))
        if not keys:
            return rows
        found = await self.conn.fetch(sql.FIRST_CONFLICTS, *([k[i] for k in keys] for i in range(3)))
        fresh = {(r["person_id"], r["other"], r["rule"]) for r in found}
        kept = []
        for row in rows:
            if row.once is None:
                kept.append(row)
            elif row.once in fresh:
                kept.append(row)
                fresh.discard(row.once)
        return kept
