"""`python -m bullseye_recommendation.train` (console script `bullseye-recommendation-train`):
train a model family, evaluate it, export `model.onnx` + `metadata.json` into a folder.

    bullseye-recommendation-train --ml1m ../shared/data/ml-1m-ncf --output .data/reco/ml1m --compare
    bullseye-recommendation-train --interactions interactions.tsv --output .data/reco/latest

    bullseye-recommendation-train --projection [--publish]   # the service's `train` command

`--compare` also trains the other families and the peers (popularity, `implicit` ALS) on
the same data and protocol, and prints the table; `--peers-only` measures the peers alone
(no model is trained or written); `--report` writes it all as JSON (the benchmarks read it).
Interactions come from a `Source` (training/sources.py): the files here. `--projection`
(first) runs the service's `train` command instead: the projection in PostgreSQL as the
source, the model registered in the storage, its settings from RECOMMENDATION_* variables
(registry/commands.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bullseye_recommendation import __main__ as service
from bullseye_recommendation.model import export
from bullseye_recommendation.training import peers
from bullseye_recommendation.training.blend import BlendSettings
from bullseye_recommendation.training.evaluation import Cases, sampled_cases
from bullseye_recommendation.training.interactions import Interactions
from bullseye_recommendation.training.pipeline import FAMILIES, HOLDOUT, Family, Trained, TrainSettings, describe, train
from bullseye_recommendation.training.sources import Dataset, NcfMovieLensSource, Source, TsvSource


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bullseye-recommendation-train", description=__doc__.split("\n")[1])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ml1m", type=Path, metavar="DIR", help="the NCF MovieLens-1M split (its own test cases)")
    source.add_argument("--interactions", type=Path, metavar="FILE", help="TSV: person, item, order[, weight]")
    parser.add_argument("--output", type=Path, metavar="DIR", help="folder for the model files (required to train)")
    parser.add_argument("--family", choices=FAMILIES, default="blend", help="the family exported (default blend)")
    parser.add_argument("--taste", type=float, help="blend weight of the EASE part (default: chosen on validation)")
    parser.add_argument("--mass", type=float, help="the taste part's mass exponent (default: chosen on validation)")
    parser.add_argument("--no-refit", action="store_true", help="serve the model fitted without the held-out items")
    parser.add_argument("--compare", action="store_true", help="also measure the other families and the peers")
    parser.add_argument("--peers-only", action="store_true", help="only measure the peers; nothing is trained")
    parser.add_argument("--report", type=Path, metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    if args.output is None and not args.peers_only:
        parser.error("--output is required to train (or give --peers-only)")
    return args


def source_of(args: argparse.Namespace) -> Source:
    """Raises: FileNotFoundError naming what is missing."""
    if args.ml1m is not None:
        ncf = NcfMovieLensSource(args.ml1m)
        if not ncf.available():
            raise FileNotFoundError(f"{args.ml1m}: the NCF MovieLens-1M files are not there (see its README)")
        return ncf
    if not args.interactions.is_file():
        raise FileNotFoundError(f"{args.interactions}: no such interactions file")
    return TsvSource(args.interactions)


def settings_of(args: argparse.Namespace, family: Family) -> TrainSettings:
    blend = BlendSettings(taste=args.taste, mass=args.mass)
    return TrainSettings(family=family, blend=blend, refit=not args.no_refit)


def row(name: str, hr: float, ndcg: float, seconds: float, size: int, protocol: str) -> dict[str, Any]:
    return {"family": name, "hr_at_10": hr, "ndcg_at_10": ndcg, "fit_seconds": seconds, "model_bytes": size,
            "protocol": protocol}  # fmt: skip


def trained_row(trained: Trained) -> dict[str, Any]:
    m = trained.metrics
    return row(trained.family, m.hr_at_10, m.ndcg_at_10, trained.seconds, trained.model.nbytes, trained.protocol)


def peer_rows(dataset: Dataset) -> list[dict[str, Any]]:
    """Popularity and ALS on the dataset's own cases, else on the validation split."""
    data, cases, protocol = _peer_cases(dataset)
    measured = [("popularity", peers.popularity(data, cases))]
    try:
        measured.append(("als (implicit)", peers.als(data, cases, peers.AlsSettings())))
    except ImportError as exc:
        print(f"bullseye-recommendation-train: ALS peer skipped: {exc}", file=sys.stderr)
    return [
        row(name, r.metrics.hr_at_10, r.metrics.ndcg_at_10, r.seconds, r.model_bytes, protocol) for name, r in measured
    ]


def _peer_cases(dataset: Dataset) -> tuple[Interactions, Cases, str]:
    if dataset.cases is not None:
        return dataset.interactions, dataset.cases, "dataset test cases"
    held, targets = dataset.interactions.without_last()
    return held, sampled_cases(held, targets), HOLDOUT


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'family':16} {'HR@10':>7} {'NDCG@10':>8} {'fit s':>7} {'MB':>7}"]
    for r in rows:
        figures = f"{r['hr_at_10']:7.4f} {r['ndcg_at_10']:8.4f} {r['fit_seconds']:7.1f} {r['model_bytes'] / 1e6:7.1f}"
        lines.append(f"{r['family']:16} {figures}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words[:1] == ["--projection"]:
        return service.main(["train", *words[1:]])
    args = parse(words)
    try:
        dataset = source_of(args).read()
    except (FileNotFoundError, ValueError) as exc:
        print(f"bullseye-recommendation-train: {exc}", file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    report: dict[str, Any] = {"load_1m_at_start": load, "cpus": os.cpu_count()}
    rows = [] if args.peers_only else _train_and_export(args, dataset, report)
    if args.compare and not args.peers_only:
        rows += [trained_row(train(dataset, settings_of(args, f))) for f in FAMILIES if f != args.family]
    if args.compare or args.peers_only:
        rows += peer_rows(dataset)
    print(table(rows))
    if args.report:
        report.update(families=rows, finished_at=time.time())
        args.report.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def _train_and_export(args: argparse.Namespace, dataset: Dataset, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The chosen family trained and written to --output; its row of the table."""
    settings = settings_of(args, args.family)
    served = train(dataset, settings)
    exported = export.write(args.output, served.model, dataset.item_ids, describe(served, settings, dataset))
    print(f"model: {exported.model} ({exported.model.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    report.update(served=args.family, train_seconds=served.seconds, train_cpu_seconds=served.cpu_seconds,
                  model=str(exported.model), model_file_bytes=exported.model.stat().st_size)  # fmt: skip
    return [trained_row(served)]


if __name__ == "__main__":
    raise SystemExit(main())
