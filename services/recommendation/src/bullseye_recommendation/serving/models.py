"""The model a serving process scores with, and how catalog items map onto it.

A `ServedModel` is one loaded model version: its onnxruntime session and its item index.
The process holds one at a time in `ModelHolder.current`; a swap replaces it with one
assignment, so a call that began with the old model finishes with it and the next call
starts with the new one: no call fails and none mixes two models. The item positions of the
catalog snapshot and of the model differ (the catalog changes between trainings), so each
(snapshot, model) pair gets an `Alignment`, made once and kept while both are current.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from bullseye_recommendation.arrays import IntArray
from bullseye_recommendation.model.files import ChecksumError, ModelFiles
from bullseye_recommendation.model.runtime import OnnxScorer
from bullseye_recommendation.serving.snapshot import Snapshot

ABSENT = -1


@dataclass(frozen=True, eq=False)
class ServedModel:
    version: str
    checksum: str
    scorer: OnnxScorer
    index: Mapping[str, int]  # item id -> model item

    @property
    def n_items(self) -> int:
        return self.scorer.n_items


def load(folder: Path, *, version: str, checksum: str) -> ServedModel:
    """Load a model folder (blocking: run it in a thread).

    Raises:
        ChecksumError: the file differs from its metadata's checksum or from `checksum` (the registry's).
        OSError: the folder cannot be read.
    """
    files = ModelFiles(folder)
    metadata = files.verify()
    if metadata["checksum"]["sha256"] != checksum:
        raise ChecksumError(f"{folder}: the metadata's sha256 is not the registered {checksum}")
    items = metadata["items"]
    scorer = OnnxScorer(files.model)
    return ServedModel(version, checksum, scorer, MappingProxyType({item: n for n, item in enumerate(items)}))


@dataclass(frozen=True, eq=False)
class Alignment:
    """Where each catalog item is in the model (ABSENT: the model never saw it)."""

    generation: int
    version: str
    to_model: IntArray

    @classmethod
    def of(cls, snapshot: Snapshot, model: ServedModel) -> Alignment:
        to_model = np.array([model.index.get(item.item_id, ABSENT) for item in snapshot.items], dtype=np.int64)
        return cls(snapshot.generation, model.version, to_model)


class ModelHolder:
    """The process's current model (None until one is published) and its alignment."""

    def __init__(self) -> None:
        self.current: ServedModel | None = None
        self._alignment: Alignment | None = None

    def swap(self, model: ServedModel) -> None:
        self.current = model  # one assignment: calls in flight keep the model they hold

    def alignment(self, snapshot: Snapshot, model: ServedModel) -> Alignment:
        held = self._alignment
        if held is None or held.generation != snapshot.generation or held.version != model.version:
            held = self._alignment = Alignment.of(snapshot, model)
        return held
