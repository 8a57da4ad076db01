"""`python -m bullseye_recommendation.train` end to end on an interactions file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from bullseye_recommendation.model.files import ModelFiles
from bullseye_recommendation.model.runtime import OnnxScorer

from tests.recommendation.synthetic import walks


def run_trainer(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bullseye_recommendation.train", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def write_interactions(path: Path) -> None:
    data = walks(persons=200)
    lines = ["person\titem\torder\tweight"]
    for person, item, age, weight in zip(data.persons, data.items, data.ages, data.weights, strict=True):
        lines.append(f"shopper-{person}\tsku-{item}\t{-age}\t{weight}")
    lines.append("shopper-0\tsku-refunded\t5\t-4")  # not a signal to learn from: dropped
    path.write_text("\n".join(lines) + "\n")


def test_the_trainer_exports_a_checksummed_model_with_metrics_and_compares_families(tmp_path: Path) -> None:
    write_interactions(tmp_path / "interactions.tsv")
    out, report = tmp_path / "model", tmp_path / "report.json"

    done = run_trainer("--interactions", str(tmp_path / "interactions.tsv"), "--output", str(out),
                       "--compare", "--report", str(report))  # fmt: skip

    assert done.returncode == 0, done.stderr
    metadata = ModelFiles(out).verify()
    assert metadata["family"] == "blend"
    assert 0.5 < metadata["metrics"]["hr_at_10"] <= 1 and metadata["metrics"]["cases"] == 200
    assert metadata["data_window"]["rows"] == sum(1 for _ in (tmp_path / "interactions.tsv").open()) - 1
    assert metadata["items"][0] == "sku-" + str(walks(persons=200).history(0).items[-1])
    assert {"taste", "mass", "tried"} <= set(metadata["training"])
    families = {row["family"] for row in json.loads(report.read_text())["families"]}
    assert families == {"blend", "sequence", "ease", "popularity", "als (implicit)"}
    scorer = OnnxScorer(ModelFiles(out).model)
    assert scorer.n_items == len(metadata["items"])
    assert np.isfinite(scorer.top([walks(persons=1).history(0)], 5)[0].scores).all()


def test_a_missing_source_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    done = run_trainer("--ml1m", str(tmp_path / "absent"), "--output", str(tmp_path / "model"))

    assert done.returncode == 2
    assert "absent" in done.stderr and "NCF MovieLens-1M files are not there" in done.stderr
    assert not (tmp_path / "model").exists()


def test_the_peers_alone_are_measured_without_training_anything(tmp_path: Path) -> None:
    write_interactions(tmp_path / "interactions.tsv")
    report = tmp_path / "report.json"

    done = run_trainer("--interactions", str(tmp_path / "interactions.tsv"), "--peers-only", "--report", str(report))

    assert done.returncode == 0, done.stderr
    rows = json.loads(report.read_text())["families"]
    assert [row["family"] for row in rows] == ["popularity", "als (implicit)"]
    assert all(0 < row["hr_at_10"] <= 1 for row in rows)
    assert set(tmp_path.iterdir()) == {tmp_path / "interactions.tsv", report}  # no model folder


def test_training_needs_an_output_folder_unless_only_the_peers_are_measured(tmp_path: Path) -> None:
    done = run_trainer("--interactions", str(tmp_path / "interactions.tsv"))

    assert done.returncode == 2 and "--output is required" in done.stderr
