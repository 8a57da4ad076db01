"""Interaction sources read their files into one shape: rows in each person's order, ids indexed."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from bullseye_recommendation.training.sources import NcfMovieLensSource, TsvSource


def write_ncf(folder: Path) -> None:
    """Two users in the NCF files' formats; user 1's negatives include its own test item."""
    with gzip.open(folder / NcfMovieLensSource.TRAIN, "wt") as handle:
        handle.write("user\titem\tseq\n0\t3\t1\n0\t1\t0\n1\t2\t0\n1\t4\t2\n1\t0\t1\n")
    (folder / NcfMovieLensSource.TEST).write_text("0\t2\t5\t978300760\n1\t5\t3\t978302109\n")
    with gzip.open(folder / NcfMovieLensSource.NEGATIVES, "wt") as handle:
        handle.write("(0,2)\t4\t5\t0\n(1,5)\t5\t3\t1\n")


def test_the_ncf_split_keeps_each_users_order_and_dedupes_candidates(tmp_path: Path) -> None:
    write_ncf(tmp_path)
    source = NcfMovieLensSource(tmp_path)

    dataset = source.read()

    assert source.available()
    assert dataset.interactions.history(0).items.tolist() == [3, 1]  # most recent first
    assert dataset.interactions.history(1).items.tolist() == [4, 0, 2]
    assert dataset.cases is not None
    assert dataset.cases.targets.tolist() == [2, 5]
    assert [c.tolist() for c in dataset.cases.candidates] == [[0, 2, 4, 5], [1, 3, 5]]
    assert dataset.item_ids == [str(i) for i in range(6)]


def test_an_incomplete_ncf_folder_is_not_available(tmp_path: Path) -> None:
    write_ncf(tmp_path)
    (tmp_path / NcfMovieLensSource.NEGATIVES).unlink()

    assert not NcfMovieLensSource(tmp_path).available()


def test_a_tsv_numbers_ids_by_first_appearance_orders_rows_and_drops_non_positive_weights(tmp_path: Path) -> None:
    path = tmp_path / "interactions.tsv"
    path.write_text(
        "person\titem\torder\tweight\nann\tsku-b\t2\t5\nbob\tsku-a\t1\t1\nann\tsku-a\t1\t1\nann\tsku-c\t3\t-2\n"
    )

    dataset = TsvSource(path).read()

    assert dataset.item_ids == ["sku-b", "sku-a", "sku-c"]
    ann = dataset.interactions.history(0)
    assert ann.items.tolist() == [0, 1] and ann.weights.tolist() == [5.0, 1.0]
    assert dataset.window["rows"] == 4 and dataset.cases is None
    assert np.array_equal(dataset.interactions.history(1).items, [1])
