"""A published model is two files in one folder: `model.onnx` and `metadata.json`.

The metadata carries the model file's SHA-256, so whoever loads the folder (the registry,
a serving process) can refuse a file that is not the one trained, plus what a gate and a
reader need: metrics and the protocol they were measured on, the data window, the channels,
and the item index (position i of `items` is the model's item i).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bullseye_recommendation.model import graph
from bullseye_recommendation.model.linear import Channel, LinearItemModel

FORMAT = 1
MODEL_FILE = "model.onnx"
METADATA_FILE = "metadata.json"


class ChecksumError(Exception):
    """The model file does not match the checksum its metadata records."""


@dataclass(frozen=True)
class ModelFiles:
    folder: Path

    @property
    def model(self) -> Path:
        return self.folder / MODEL_FILE

    @property
    def metadata(self) -> Path:
        return self.folder / METADATA_FILE

    def read_metadata(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.metadata.read_text())
        return document

    def verify(self) -> dict[str, Any]:
        """The metadata, once the model file's checksum matches it.

        Raises:
            ChecksumError: the file differs from the one the metadata describes.
        """
        document = self.read_metadata()
        actual = sha256(self.model)
        if actual != document["checksum"]["sha256"]:
            raise ChecksumError(f"{self.model}: sha256 {actual} but the metadata records {document['checksum']}")
        return document


def write(folder: Path, model: LinearItemModel, items: list[str], description: dict[str, Any]) -> ModelFiles:
    """Export `model` to ONNX and describe it; the metadata lands last, so a folder with a
    metadata file always has the model file it names.

    Raises:
        ValueError: `items` does not name every item of the model.
    """
    if len(items) != model.n_items:
        raise ValueError(f"the item index has {len(items)} ids for a model of {model.n_items} items")
    files = ModelFiles(folder)
    folder.mkdir(parents=True, exist_ok=True)
    payload = graph.build(model).SerializeToString()
    _write_atomically(files.model, payload)
    document = {
        "format": FORMAT,
        "model_file": MODEL_FILE,
        "checksum": {"sha256": hashlib.sha256(payload).hexdigest()},
        "bytes": len(payload),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "channels": [_channel(c) for c in model.channels],
        "inputs": list(graph.INPUTS),
        "outputs": list(graph.OUTPUTS),
        **description,
        "items": items,
    }
    _write_atomically(files.metadata, json.dumps(document, indent=1).encode())
    return files


def _channel(channel: Channel) -> dict[str, Any]:
    rank = None if channel.basis is None else int(channel.basis.shape[0])
    return {"name": channel.name, "decay": channel.decay, "horizon": channel.horizon, "rank": rank,
            "mass_exponent": channel.mass_exponent, "mass_reference": channel.mass_reference}  # fmt: skip


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomically(path: Path, payload: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
