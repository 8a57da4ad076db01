"""The registry's commands: `train` (what the Kubernetes CronJob runs) and `register`.

`python -m bullseye_recommendation train [--family F] [--publish [--force]]` reads every
person's history from the projection (adapters/projection_source.py), trains the family (the
blend by default: training/pipeline.py measures it on each person's latest item held out,
then refits on everything), writes `model.onnx` and `metadata.json` into a new folder of the
model storage and registers the version. `bullseye-recommendation-train --projection` is
the same command.

`python -m bullseye_recommendation register FOLDER [--publish [--force]]` registers a model
folder already in the storage (one the file trainer wrote, `bullseye-recommendation-train
--output $RECOMMENDATION_MODEL_DIR/<version>`, or one copied from another deployment).

With `--publish` either serves the new version (the gate applies unless `--force`; a refused
version stays registered). Each prints its outcome as one JSON line and exits 3 when the
gate refused, 2 when there is too little to train on or the folder fails its checksum.
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

import asyncpg

from bullseye_recommendation import bootstrap
from bullseye_recommendation.adapters.projection_source import read_projection
from bullseye_recommendation.config import RecommendationConfig
from bullseye_recommendation.model import export
from bullseye_recommendation.registry.entries import ModelEntry, Refused
from bullseye_recommendation.registry.registry import Registry
from bullseye_recommendation.training.pipeline import FAMILIES, Family, TrainSettings, describe
from bullseye_recommendation.training.pipeline import train as fit
from bullseye_recommendation.training.sources import Dataset

FEWEST_PERSONS = 2  # the blend's weights are chosen on held-out items: people with two items or more
REFUSED, UNUSABLE = 3, 2


def _parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"bullseye-recommendation {command}", description=__doc__.split("\n")[0])
    parser.add_argument("--publish", action="store_true", help="serve the new version (the gate applies)")
    parser.add_argument("--force", action="store_true", help="with --publish: skip the metrics gate")
    parser.add_argument("--reason", default="", help="why, for the publication's record")
    return parser


async def train(config: RecommendationConfig, arguments: Sequence[str]) -> int:
    """The `train` command."""
    parser = _parser("train")
    parser.add_argument("--family", choices=FAMILIES, default="blend", help="the model family (default blend)")
    args = parser.parse_args(arguments)
    pool = await bootstrap.open_store(config)
    try:
        dataset = await read_projection(pool)
        if (trainable := _trainable(dataset)) < FEWEST_PERSONS:
            print(f"bullseye-recommendation train: {trainable} persons with two items or more; "
                  f"at least {FEWEST_PERSONS} are needed", file=sys.stderr)  # fmt: skip
            return UNUSABLE
        version = await asyncio.to_thread(_train_into, Path(config.model_dir), dataset, args.family)
        registry = _registry(config, pool)
        return await _conclude(registry, await registry.register(version), args)
    finally:
        await pool.close()


async def register(config: RecommendationConfig, arguments: Sequence[str]) -> int:
    """The `register` command."""
    parser = _parser("register")
    parser.add_argument("folder", help="the version's folder, relative to RECOMMENDATION_MODEL_DIR (its name)")
    args = parser.parse_args(arguments)
    pool = await bootstrap.open_store(config)
    try:
        registry = _registry(config, pool)
        try:
            entry = await registry.register(args.folder)
        except Refused as exc:
            print(f"bullseye-recommendation register: {exc.message}", file=sys.stderr)
            return UNUSABLE
        return await _conclude(registry, entry, args)
    finally:
        await pool.close()


def _registry(config: RecommendationConfig, pool: asyncpg.Pool) -> Registry:
    return Registry(pool=pool, storage=Path(config.model_dir), subject_prefix=config.subject_prefix,
                    tolerance=config.gate_tolerance, now=config.clock().now)  # fmt: skip


async def _conclude(registry: Registry, entry: ModelEntry, args: argparse.Namespace) -> int:
    """Publish when asked; print the outcome; the exit code."""
    outcome: dict[str, Any] = {"version": entry.version, "family": entry.family, "metrics": dict(entry.metrics),
                               "items": entry.items, "published": False}  # fmt: skip
    if args.publish:
        try:
            await registry.publish(entry.version, force=args.force, reason=args.reason or "registered")
            outcome["published"] = True
        except Refused as exc:
            outcome["refused"] = exc.message
    print(json.dumps(outcome))
    return REFUSED if args.publish and not outcome["published"] else 0


def _trainable(dataset: Dataset) -> int:
    counts = dataset.interactions.starts[1:] - dataset.interactions.starts[:-1]
    return int((counts >= 2).sum())


def _train_into(storage: Path, dataset: Dataset, family: Family) -> str:
    """Train and write the model folder; returns its name (the version: when, what, and a
    random part, so two trainings never share a folder)."""
    settings = TrainSettings(family=family)
    trained = fit(dataset, settings)
    version = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{family}-{uuid.uuid4().hex[:6]}"
    export.write(storage / version, trained.model, dataset.item_ids, describe(trained, settings, dataset))
    return version
