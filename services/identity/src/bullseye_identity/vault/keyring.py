"""Per-subject data keys, stored wrapped by the master key; keyed hashes for matching.

The table `data_keys` holds one row per subject. A key exists in the clear only in memory:
here (a bounded, aging cache of unwrapped keys) and in ingestion's cache. Shredding a
subject drops its wrapped key, which makes every copy of its sealed data unreadable.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform import sealing
from bullseye_platform.crypto import DataKey, MasterKey, keyed_hash, new_secret
from bullseye_platform.sealing import DataKeyCache
from bullseye_platform.store.pool import Connection

_LIVE = "SELECT key_id, subject, wrapped FROM data_keys WHERE subject = ANY($1::text[]) AND wrapped IS NOT NULL"

# New subjects get a key; a shredded subject that shows up again gets a NEW key (new id):
# what was sealed before the shred stays unreadable, what comes after is readable.
_CREATE = """
WITH fresh AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[]) AS f(key_id, subject, wrapped)),
rekeyed AS (
    UPDATE data_keys d SET key_id = f.key_id, wrapped = f.wrapped, created_at = now(), shredded_at = NULL
    FROM fresh f WHERE d.subject = f.subject AND d.wrapped IS NULL
    RETURNING d.subject
)
INSERT INTO data_keys (key_id, subject, wrapped)
SELECT key_id, subject, wrapped FROM fresh WHERE subject NOT IN (SELECT subject FROM rekeyed)
ON CONFLICT (subject) DO NOTHING
"""


def new_key_id() -> str:
    return "dk_" + uuid.uuid4().hex


class KeyRing:
    """Issues, opens with, and shreds the data keys of subjects ("user:<id>", "anon:<id>",
    "loyalty:<id>", "email:<address>", "phone:<E.164>"). An email or phone subject is kept
    under the address's keyed hash (`stored_subject`): no table holds the address."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        master: MasterKey,
        hash_secret: bytes,
        *,
        cache_ttl: float = 300.0,
        cache_size: int = 50_000,
    ) -> None:
        self._pool, self._master, self._hash_secret = pool, master, hash_secret
        self._cache = DataKeyCache(ttl=cache_ttl, max_size=cache_size)

    def hash_identifier(self, kind: str, normalized_value: str) -> str:
        """The keyed hash that matches an email or phone without storing it ("email", "phone")."""
        return keyed_hash(self._hash_secret, kind, normalized_value)

    def stored_subject(self, subject: str) -> str:
        """The name a subject is stored under: "email:<address>" becomes "email:<keyed hash>"
        (the hash the graph's identifiers hold), likewise a phone; others are unchanged."""
        for prefix, kind in ((sealing.EMAIL_PREFIX, "email"), (sealing.PHONE_PREFIX, "phone")):
            if subject.startswith(prefix):
                return prefix + self.hash_identifier(kind, subject.removeprefix(prefix))
        return subject

    def unwrap(self, key_id: str, wrapped: bytes) -> DataKey:
        """A stored key in the clear (cached by id).

        Raises:
            SealError: `wrapped` was not made by this master key for `key_id`.
        """
        key = self._cache.get(key_id)
        if key is None:
            key = self._master.unwrap(key_id, wrapped)
            self._cache.put(key_id, key)
        return key

    async def issue(self, subjects: Sequence[str]) -> list[DataKey]:
        """The key of each subject (as ingestion names it), in order, creating missing ones;
        committed before returning."""
        subjects = [self.stored_subject(s) for s in subjects]
        wanted = list(dict.fromkeys(subjects))
        async with self._pool.acquire() as conn:
            rows = {r["subject"]: r for r in await conn.fetch(_LIVE, wanted)}
            missing = [s for s in wanted if s not in rows]
            if missing:
                await self._create(conn, missing)
                rows.update({r["subject"]: r for r in await conn.fetch(_LIVE, missing)})
        keys = {s: self.unwrap(rows[s]["key_id"], rows[s]["wrapped"]) for s in wanted}
        return [keys[s] for s in subjects]

    async def _create(self, conn: Connection, subjects: list[str]) -> None:
        """Concurrent creators of one subject agree: ON CONFLICT waits for the first one's
        commit and keeps its key, which the next SELECT (a new snapshot) then reads."""
        fresh = [DataKey(new_key_id(), new_secret()) for _ in subjects]
        wrapped = [self._master.wrap(k) for k in fresh]
        await conn.execute(_CREATE, [k.key_id for k in fresh], subjects, wrapped)

    async def key(self, conn: Connection, key_id: str) -> DataKey | None:
        """The key `key_id` in the clear; None when it was shredded (or never existed)."""
        cached = self._cache.get(key_id)
        if cached is not None:
            return cached
        wrapped = await conn.fetchval("SELECT wrapped FROM data_keys WHERE key_id = $1", key_id)
        return None if wrapped is None else self.unwrap(key_id, wrapped)

    async def subject_key(self, conn: Connection, subject: str) -> DataKey | None:
        """The live key of `subject` (its stored name), None when it has none (never issued,
        or shredded)."""
        row = await conn.fetchrow(_LIVE, [subject])
        return None if row is None else self.unwrap(row["key_id"], row["wrapped"])

    async def open_personal(self, conn: Connection, sealed: ev.SealedData, event_id: str) -> ev.PersonalData | None:
        """The personal data sealed in an event; None when its key was shredded.

        Raises:
            SealError: the ciphertext was tampered with or moved to another event.
        """
        key = await self.key(conn, sealed.key_id)
        return None if key is None else sealing.open_personal(sealed, key, event_id)

    async def open_contact(self, conn: Connection, sealed: ev.SealedData, event_id: str) -> ev.PersonalData | None:
        """The email and phone an event is identified by; None when its key was shredded.

        Raises:
            SealError: the ciphertext was tampered with or moved to another event.
        """
        key = await self.key(conn, sealed.key_id)
        return None if key is None else sealing.open_contact(sealed, key, event_id)

    async def shred(self, conn: Connection, subjects: Sequence[str]) -> int:
        """Crypto-shred: drop the wrapped keys of `subjects` (stored names, as the graph's
        identifiers give them); returns how many were live.

        Only this process's cache forgets them at once; other identity replicas keep a
        cached key for at most `cache_ttl` seconds.
        """
        shredded = await conn.fetch(
            "UPDATE data_keys SET wrapped = NULL, shredded_at = now() "
            "WHERE subject = ANY($1::text[]) AND wrapped IS NOT NULL RETURNING key_id",
            list(subjects),
        )
        for row in shredded:
            self._cache.drop(row["key_id"])
        return len(shredded)
