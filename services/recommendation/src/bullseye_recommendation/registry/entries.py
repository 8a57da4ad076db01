"""What the registry knows of a model version, as rows of `models` and `publications`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

# A model row with whether it is served now and when it was last published.
SELECT = """
SELECT m.*, (m.version = current.version) AS current, last.published_at
FROM models m
LEFT JOIN LATERAL (SELECT max(published_at) AS published_at FROM publications p WHERE p.version = m.version) last
    ON true
LEFT JOIN LATERAL (SELECT version FROM publications ORDER BY id DESC LIMIT 1) current ON true
"""


class RegistryError(Exception):
    """A request the registry cannot do; `message` says what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownVersion(RegistryError):
    """No such model version is registered."""


class Refused(RegistryError):
    """The version may not be served: its file fails its checksum, the gate refuses it, or
    there is nothing to roll back to."""


@dataclass(frozen=True)
class ModelEntry:
    version: str
    family: str
    checksum: str
    bytes: int
    items: int
    folder: str  # relative to the model storage
    metrics: Mapping[str, float]
    data_from: datetime | None
    data_to: datetime | None
    registered_at: datetime
    current: bool = False
    published_at: datetime | None = None

    @classmethod
    def of(cls, row: asyncpg.Record) -> ModelEntry:
        metrics = json.loads(row["metrics"])
        return cls(
            version=row["version"], family=row["family"], checksum=row["checksum"], bytes=row["bytes"],
            items=row["items"], folder=row["folder"], data_from=row["data_from"], data_to=row["data_to"],
            metrics={k: float(v) for k, v in metrics.items() if isinstance(v, int | float)},
            registered_at=row["registered_at"], current=bool(row["current"]), published_at=row["published_at"],
        )  # fmt: skip

    def path(self, storage: Path) -> Path:
        return storage / self.folder


def row_values(entry: ModelEntry) -> tuple[Any, ...]:
    """The `models` columns of `entry`, in the table's order."""
    return (
        entry.version, entry.family, entry.checksum, entry.bytes, entry.items, entry.folder,
        json.dumps(dict(entry.metrics)), entry.data_from, entry.data_to, entry.registered_at,
    )  # fmt: skip
