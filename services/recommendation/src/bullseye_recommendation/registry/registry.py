"""The model registry: versions in PostgreSQL, files in the model storage, one served model.

- `register` takes a folder the trainer wrote into the storage (model/files.py), checks its
  checksum and records the version with its metrics and data window.
- `publish` makes a version the served one: its file must match the registered checksum,
  and the gate (domain/gate.py) must pass unless forced. The publication row and the
  `model.published` fact (through the outbox, Nats-Msg-Id `published:<id>`) commit together,
  so every serving process hears of exactly the publications that happened.
- `rollback` serves again the version the current publication replaced (one call).

Publications are serialized by a transaction lock, so two concurrent publishes cannot both
decide against the same "current" model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from bullseye.recommendation.v1 import facts_pb2
from bullseye_platform import outbox
from bullseye_platform.eventlog import subject_for
from bullseye_platform.store.pool import Connection

from bullseye_recommendation.domain.gate import refusals
from bullseye_recommendation.model.files import ChecksumError, ModelFiles, sha256
from bullseye_recommendation.registry.entries import SELECT, ModelEntry, Refused, UnknownVersion, row_values

KIND = "model.published"
_SERIALIZE = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.publications'))"
_LATEST = "SELECT * FROM publications ORDER BY id DESC LIMIT 1"


@dataclass(frozen=True)
class Publication:
    """What a publish or rollback did: the entry served now, and whether anything changed."""

    entry: ModelEntry
    changed: bool


class Registry:
    def __init__(
        self, *, pool: asyncpg.Pool, storage: Path, subject_prefix: str, tolerance: float,
        now: Callable[[], datetime],
    ) -> None:  # fmt: skip
        self._pool, self._storage, self._prefix = pool, storage, subject_prefix
        self._tolerance, self._now = tolerance, now

    async def register(self, folder: str) -> ModelEntry:
        """Record the version in `folder` (relative to the storage; its name is the version).

        Raises:
            Refused: the folder's model file does not match its metadata's checksum.
        """
        try:
            metadata = await asyncio.to_thread(ModelFiles(self._storage / folder).verify)
        except ChecksumError as exc:
            raise Refused(str(exc)) from exc
        entry = entry_of(folder, metadata, self._now())
        async with self._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO models VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10) "
                "ON CONFLICT (version) DO NOTHING",
                *row_values(entry),
            )
        return await self.get(entry.version)

    async def get(self, version: str) -> ModelEntry:
        """Raises: UnknownVersion."""
        row = await self._pool.fetchrow(SELECT + " WHERE m.version = $1", version)
        if row is None:
            raise UnknownVersion(f"no model version {version!r} is registered (ListModels lists them)")
        return ModelEntry.of(row)

    async def page(self, *, size: int, after: int) -> tuple[list[ModelEntry], bool]:
        """Versions newest first, `size` of them after the first `after`; and whether more follow."""
        rows = await self._pool.fetch(
            SELECT + " ORDER BY m.registered_at DESC, m.version DESC LIMIT $1 OFFSET $2", size + 1, after
        )
        return [ModelEntry.of(r) for r in rows[:size]], len(rows) > size

    async def current(self) -> ModelEntry | None:
        row = await self._pool.fetchrow(SELECT + " WHERE current.version = m.version")
        return None if row is None else ModelEntry.of(row)

    async def publish(self, version: str, *, force: bool = False, reason: str = "") -> Publication:
        """Raises: UnknownVersion; Refused (checksum, or the gate unless `force`)."""
        entry = await self.get(version)
        await self._verify(entry)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_SERIALIZE)
            latest = await conn.fetchrow(_LATEST)
            if latest is not None and latest["version"] == version:
                return Publication(await self.get(version), changed=False)  # already served: nothing to announce
            if latest is not None and not force:
                served = await self.get(latest["version"])
                if problems := refusals(entry.metrics, served.metrics, tolerance=self._tolerance):
                    raise Refused(f"the gate refuses {version}: " + "; ".join(problems) + " (force skips the gate)")
            previous = None if latest is None else latest["id"]
            await self._announce(conn, entry, previous_id=previous, reason=reason, rollback=False)
        return Publication(await self.get(version), changed=True)

    async def rollback(self, *, reason: str = "") -> Publication:
        """Raises: Refused (nothing was served before the current version, or its file fails
        its checksum now)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_SERIALIZE)
            latest = await conn.fetchrow(_LATEST)
            if latest is None or latest["previous_id"] is None:
                raise Refused("nothing to roll back to: no model was served before the current one")
            replaced = await conn.fetchrow("SELECT * FROM publications WHERE id = $1", latest["previous_id"])
            assert replaced is not None  # previous_id is a foreign key
            target = await self.get(replaced["version"])
            await self._verify(target)
            await conn.execute("UPDATE publications SET rolled_back_at = $1 WHERE id = $2", self._now(), latest["id"])
            await self._announce(conn, target, previous_id=replaced["previous_id"], reason=reason, rollback=True)
        return Publication(await self.get(target.version), changed=True)

    async def _verify(self, entry: ModelEntry) -> None:
        """Raises: Refused when the stored file is not the registered one (or is gone)."""
        path = ModelFiles(entry.path(self._storage)).model
        try:
            actual = await asyncio.to_thread(sha256, path)
        except OSError as exc:
            raise Refused(f"{entry.version}: its model file cannot be read ({exc.strerror})") from exc
        if actual != entry.checksum:
            raise Refused(f"{entry.version}: the model file's sha256 is {actual}, not the registered {entry.checksum}")

    async def _announce(
        self, conn: Connection, entry: ModelEntry, *, previous_id: int | None, reason: str, rollback: bool
    ) -> None:
        """The publication row and its `model.published` fact, in the caller's transaction."""
        when = self._now()
        number = await conn.fetchval(
            "INSERT INTO publications (version, previous_id, published_at, reason, rollback) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING id",
            entry.version, previous_id, when, reason, rollback,
        )  # fmt: skip
        before = await conn.fetchval("SELECT version FROM publications WHERE id = $1", previous_id)
        fact = facts_pb2.ModelPublished(
            version=entry.version, family=entry.family, checksum=entry.checksum, folder=entry.folder,
            publication_id=number, reason=reason, rollback=rollback, previous_version=before or "",
        )  # fmt: skip
        fact.published_at.FromDatetime(when)
        record = facts_pb2.RecoRecord(model_published=fact)
        subject = subject_for(self._prefix, 0, KIND)
        await outbox.emit(conn, subject=subject, payload=record.SerializeToString(), msg_id=f"published:{number}")


def entry_of(folder: str, metadata: Mapping[str, Any], now: datetime) -> ModelEntry:
    """The registry entry of a verified model folder's metadata (model/files.py)."""
    window = metadata.get("data_window", {})
    return ModelEntry(
        version=folder, family=str(metadata.get("family", "")), checksum=metadata["checksum"]["sha256"],
        bytes=int(metadata["bytes"]), items=len(metadata["items"]), folder=folder,
        metrics={k: float(v) for k, v in metadata.get("metrics", {}).items() if isinstance(v, int | float)},
        data_from=_time(window.get("from")), data_to=_time(window.get("to")), registered_at=now,
    )  # fmt: skip


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None
