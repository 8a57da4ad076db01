"""A published model is two files in one folder: `model.onnx` and `metadata.json`.

The metadata carries the model file's SHA-256, so whoever loads the folder (the registry,
a serving process) can refuse a file that is not the one trained, plus what a gate and a
reader need: metrics and the protocol they were measured on, the data window, the channels,
and the item index (position i of `items` is the model's item i). Writing a folder is
model/export.py's (it needs `onnx`, which a serving process never loads).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
