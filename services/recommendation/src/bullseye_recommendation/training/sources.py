"""Where interactions come from. The trainer asks a `Source` for a `Dataset` and nothing else,
so the PostgreSQL projection (later) is one more class beside the file readers here.

- `TsvSource`: a file of `person  item  order  [weight]` rows (header line first), any ids.
- `NcfMovieLensSource`: the MovieLens-1M leave-one-out split of the NCF paper, with its
  original held-out items and negatives as the evaluation cases (../shared/data/ml-1m-ncf;
  read in place, never copied: its licence forbids redistribution).
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bullseye_recommendation.training.evaluation import Cases
from bullseye_recommendation.training.interactions import Interactions


@dataclass(frozen=True, eq=False)
class Dataset:
    """Interactions with their external ids; `cases` when the source brings its own test."""

    interactions: Interactions
    item_ids: list[str]
    window: dict[str, Any] = field(default_factory=dict)  # what data the model saw (metadata)
    cases: Cases | None = None


class Source(Protocol):
    def read(self) -> Dataset: ...


def _index(values: list[str]) -> tuple[list[str], np.ndarray]:
    """Dense indices for ids, numbered in order of first appearance."""
    ids: dict[str, int] = {}
    codes = np.fromiter((ids.setdefault(v, len(ids)) for v in values), dtype=np.int64, count=len(values))
    return list(ids), codes


@dataclass(frozen=True)
class TsvSource:
    """Tab-separated `person, item, order[, weight]` with a header; order sorts one person's rows."""

    path: Path

    def read(self) -> Dataset:
        """Raises: ValueError on a short row or a non-numeric order or weight."""
        with _open_text(self.path) as handle:
            rows = list(csv.reader(handle, delimiter="\t"))[1:]
        if any(len(r) < 3 for r in rows):
            raise ValueError(f"{self.path}: every row needs person, item and order")
        person_ids, persons = _index([r[0] for r in rows])
        item_ids, items = _index([r[1] for r in rows])
        order = np.array([float(r[2]) for r in rows])
        weights = np.array([float(r[3]) if len(r) > 3 else 1.0 for r in rows])
        data = Interactions.of(persons, items, order, n_persons=len(person_ids), n_items=len(item_ids), weights=weights)
        window = {"source": str(self.path), "rows": len(rows), "first_order": _min(order), "last_order": _max(order)}
        return Dataset(interactions=data, item_ids=item_ids, window=window)


@dataclass(frozen=True)
class NcfMovieLensSource:
    """The NCF split: train pairs in each user's order, one test item and 99 negatives per user."""

    folder: Path

    TRAIN = "ml-1m.train.pairs.reconstructed.tsv.gz"
    TEST = "ml-1m.test.rating"
    NEGATIVES = "ml-1m.test.negative.gz"

    def available(self) -> bool:
        return all((self.folder / name).is_file() for name in (self.TRAIN, self.TEST, self.NEGATIVES))

    def read(self) -> Dataset:
        train = np.loadtxt(self.folder / self.TRAIN, dtype=np.int64, delimiter="\t", skiprows=1)
        test = np.loadtxt(self.folder / self.TEST, dtype=np.int64, delimiter="\t")
        n_persons = int(max(train[:, 0].max(), test[:, 0].max())) + 1
        n_items = int(max(train[:, 1].max(), test[:, 1].max())) + 1
        data = Interactions.of(train[:, 0], train[:, 1], train[:, 2], n_persons=n_persons, n_items=n_items)
        cases = Cases.of(test[:, 0], test[:, 1], self._negatives())
        window = {"source": "ml-1m-ncf", "rows": len(train), "persons": n_persons, "test_cases": len(cases)}
        return Dataset(interactions=data, item_ids=[str(i) for i in range(n_items)], window=window, cases=cases)

    def _negatives(self) -> list[np.ndarray]:
        with gzip.open(self.folder / self.NEGATIVES, "rt") as handle:
            return [np.array([n for n in line.rstrip().split("\t")[1:] if n], dtype=np.int64) for line in handle]


def _open_text(path: Path) -> Any:
    return gzip.open(path, "rt", newline="") if path.suffix == ".gz" else path.open(newline="")


def _min(values: np.ndarray) -> float | None:
    return float(values.min()) if len(values) else None


def _max(values: np.ndarray) -> float | None:
    return float(values.max()) if len(values) else None
