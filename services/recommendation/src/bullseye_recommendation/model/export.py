"""Writing a model folder: the ONNX graph (model/graph.py) and its metadata (model/files.py)."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bullseye_recommendation.model import graph
from bullseye_recommendation.model.files import FORMAT, MODEL_FILE, ModelFiles
from bullseye_recommendation.model.linear import Channel, LinearItemModel


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


def _write_atomically(path: Path, payload: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
