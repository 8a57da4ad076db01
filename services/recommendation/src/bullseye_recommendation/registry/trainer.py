"""`python -m bullseye_recommendation train`: train on the projection, register, maybe publish.

What the Kubernetes CronJob runs (deploy/helm/recommendation), and what
`bullseye-recommendation-train --projection` runs: read every person's history from the
projection (adapters/projection_source.py), train the family (the blend by default:
training/pipeline.py measures it on each person's latest item held out, then refits on
everything), write `model.onnx` and `metadata.json` into a new folder of the model storage,
register the version, and with `--publish` make it the served one (the gate applies unless
`--force`; a refused model stays registered). Prints the outcome as one JSON line; exits 3
when the gate refused, 2 when there is too little to train on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bullseye_recommendation import bootstrap
from bullseye_recommendation.adapters.projection_source import read_projection
from bullseye_recommendation.config import RecommendationConfig
from bullseye_recommendation.model import files
from bullseye_recommendation.registry.entries import Refused
from bullseye_recommendation.registry.registry import Registry
from bullseye_recommendation.train import describe
from bullseye_recommendation.training.pipeline import FAMILIES, Family, TrainSettings
from bullseye_recommendation.training.pipeline import train as fit
from bullseye_recommendation.training.sources import Dataset

FEWEST_PERSONS = 2  # the blend's weights are chosen on held-out items: people with two items or more


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bullseye-recommendation train", description=__doc__.split("\n")[0])
    parser.add_argument("--family", choices=FAMILIES, default="blend", help="the model family (default blend)")
    parser.add_argument("--publish", action="store_true", help="serve the new version (the gate applies)")
    parser.add_argument("--force", action="store_true", help="with --publish: skip the metrics gate")
    parser.add_argument("--reason", default="", help="why, for the publication's record")
    return parser


async def train(config: RecommendationConfig, arguments: Sequence[str]) -> int:
    """The `train` command."""
    args = _parser().parse_args(arguments)
    pool = await bootstrap.open_store(config)
    try:
        dataset = await read_projection(pool)
        if _trainable(dataset) < FEWEST_PERSONS:
            print(f"bullseye-recommendation train: {_trainable(dataset)} persons with two items or more; "
                  f"at least {FEWEST_PERSONS} are needed", file=sys.stderr)  # fmt: skip
            return 2
        storage = Path(config.model_dir)
        version = await asyncio.to_thread(_train_into, storage, dataset, args.family)
        registry = Registry(pool=pool, storage=storage, subject_prefix=config.subject_prefix,
                            tolerance=config.gate_tolerance, now=config.clock().now)  # fmt: skip
        entry = await registry.register(version)
        outcome: dict[str, Any] = {"version": entry.version, "family": entry.family, "metrics": dict(entry.metrics),
                                   "items": entry.items, "published": False}  # fmt: skip
        if args.publish:
            try:
                await registry.publish(version, force=args.force, reason=args.reason or "trained")
                outcome["published"] = True
            except Refused as exc:
                outcome["refused"] = exc.message
        print(json.dumps(outcome))
        return 3 if args.publish and not outcome["published"] else 0
    finally:
        await pool.close()


def _trainable(dataset: Dataset) -> int:
    counts = dataset.interactions.starts[1:] - dataset.interactions.starts[:-1]
    return int((counts >= 2).sum())


def _train_into(storage: Path, dataset: Dataset, family: Family) -> str:
    """Train and write the model folder; returns its name (the version: when, what, and a
    random part, so two trainings never share a folder)."""
    settings = TrainSettings(family=family)
    trained = fit(dataset, settings)
    version = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{family}-{uuid.uuid4().hex[:6]}"
    files.write(storage / version, trained.model, dataset.item_ids, describe(trained, settings, dataset))
    return version
