"""train -> export -> onnxruntime: the graph computes the trainer's scores, masks, ranks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bullseye_recommendation.domain.history import History
from bullseye_recommendation.model import export, files
from bullseye_recommendation.model.linear import Channel, LinearItemModel
from bullseye_recommendation.model.runtime import OnnxScorer
from bullseye_recommendation.training.blend import BlendSettings
from bullseye_recommendation.training.pipeline import FAMILIES, Family, TrainSettings, train
from bullseye_recommendation.training.sources import Dataset

from tests.recommendation.synthetic import ITEMS, walks

TOLERANCE = 1e-5


def histories() -> list[History]:
    rng = np.random.default_rng(11)
    drawn = [
        History.of(rng.choice(ITEMS, size=n, replace=False), weights=rng.uniform(-2, 5, size=n)) for n in (1, 5, 17, 40)
    ]
    spaced = History.of([3, 9, 4], ages=[0.0, 2.5, 7.0], weights=[1.0, 5.0, 2.0])  # ages need not be ranks
    return [*drawn, spaced]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[Family, tuple[LinearItemModel, OnnxScorer]]:
    dataset = Dataset(interactions=walks(), item_ids=[f"sku-{i}" for i in range(ITEMS)])
    out: dict[Family, tuple[LinearItemModel, OnnxScorer]] = {}
    for family in FAMILIES:
        blend = BlendSettings(spread_sample=64, taste=0.5, mass=0.75, taste_rank=8)  # taste factored, normalized
        trained = train(dataset, TrainSettings(family=family, blend=blend))
        folder = tmp_path_factory.mktemp(family)
        written = export.write(folder, trained.model, dataset.item_ids, {"family": family})
        out[family] = trained.model, OnnxScorer(written.model)
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_onnx_scores_equal_the_trainers_scores(exported: dict[Family, tuple[LinearItemModel, OnnxScorer]],
                                               family: Family) -> None:  # fmt: skip
    model, scorer = exported[family]
    if family == "blend":
        assert [c.basis is not None for c in model.channels] == [False, False, True]
        assert [c.horizon for c in model.channels] == [24, 153, None]
        assert [c.mass_exponent for c in model.channels] == [0, 0, 0.75]
    for history in histories():
        ranked = scorer.top([history], ITEMS)[0]
        reference = model.scores(history)
        np.testing.assert_allclose(ranked.scores, reference[ranked.items], rtol=0, atol=TOLERANCE)
        candidates = np.array([[0, 7, 7, 59, 31]])
        got = scorer.candidate_scores([history], candidates)[0]
        np.testing.assert_allclose(got, reference[candidates[0]], rtol=0, atol=TOLERANCE)


def test_top_k_is_the_best_k_in_order_and_never_an_excluded_item(
    exported: dict[Family, tuple[LinearItemModel, OnnxScorer]],
) -> None:
    model, scorer = exported["blend"]
    history = histories()[2]
    exclude = np.zeros((1, ITEMS), dtype=np.bool_)
    exclude[0, history.items] = True
    exclude[0, [0, 1, 2]] = True

    ranked = scorer.top([history], 10, exclude)[0]

    allowed = np.flatnonzero(~exclude[0])
    reference = model.scores(history)
    best = allowed[np.argsort(-reference[allowed], kind="stable")[:10]]
    assert len(ranked.items) == 10
    assert not exclude[0, ranked.items].any()
    assert np.all(np.diff(ranked.scores) <= 0)
    np.testing.assert_allclose(reference[ranked.items], reference[best], atol=TOLERANCE)


def test_excluded_candidates_score_minus_infinity_and_fill_the_tail_of_a_large_k(
    exported: dict[Family, tuple[LinearItemModel, OnnxScorer]],
) -> None:
    _, scorer = exported["sequence"]
    exclude = np.ones((1, ITEMS), dtype=np.bool_)
    exclude[0, [5, 6]] = False

    scores = scorer.candidate_scores([histories()[1]], np.array([[5, 6, 7]]), exclude)[0]
    ranked = scorer.top([histories()[1]], 4, exclude)[0]

    assert np.isfinite(scores[:2]).all() and scores[2] == -np.inf
    assert set(ranked.items[:2].tolist()) == {5, 6}
    assert np.all(ranked.scores[2:] == -np.inf)


def test_a_batch_with_padding_scores_each_person_as_alone(
    exported: dict[Family, tuple[LinearItemModel, OnnxScorer]],
) -> None:
    _, scorer = exported["blend"]
    people = histories()
    candidates = np.tile(np.arange(ITEMS), (len(people), 1))

    together = scorer.candidate_scores(people, candidates)
    alone = np.vstack([scorer.candidate_scores([h], candidates[:1]) for h in people])

    np.testing.assert_allclose(together, alone, rtol=0, atol=TOLERANCE)


def test_an_empty_history_scores_zero_and_a_negative_weight_pushes_similar_items_down(
    exported: dict[Family, tuple[LinearItemModel, OnnxScorer]],
) -> None:
    _, scorer = exported["sequence"]
    everything = np.arange(ITEMS)[None, :]
    empty = scorer.candidate_scores([History.of([])], everything)[0]
    liked = scorer.candidate_scores([History.of([10], weights=[3.0])], everything)[0]
    refunded = scorer.candidate_scores([History.of([10], weights=[-3.0])], everything)[0]

    assert np.all(empty == 0)
    np.testing.assert_allclose(refunded, -liked, atol=TOLERANCE)
    assert int(np.argmax(liked)) == int(np.argmin(refunded))


def test_a_model_file_that_differs_from_its_metadata_is_refused(tmp_path: Path,
        exported: dict[Family, tuple[LinearItemModel, OnnxScorer]]) -> None:  # fmt: skip
    model, _ = exported["ease"]
    written = export.write(tmp_path, model, [str(i) for i in range(ITEMS)], {"family": "ease"})
    document = written.verify()
    assert document["items"][5] == "5" and document["checksum"]["sha256"] == files.sha256(written.model)

    payload = bytearray(written.model.read_bytes())
    payload[-1] ^= 0xFF
    written.model.write_bytes(bytes(payload))

    with pytest.raises(files.ChecksumError):
        written.verify()


def test_a_channel_normalized_by_mass_scores_a_history_alike_at_any_overall_strength(tmp_path: Path) -> None:
    rows = np.random.default_rng(4).standard_normal((ITEMS, ITEMS)).astype(np.float32)
    taste = Channel("taste", 1.0, rows, mass_exponent=1.0, mass_reference=3.0)
    written = export.write(tmp_path, LinearItemModel((taste,)), [str(i) for i in range(ITEMS)], {})
    scorer, everything = OnnxScorer(written.model), np.arange(ITEMS)[None, :]
    history = History.of([4, 8, 15], weights=[1.0, 2.0, -1.0])
    louder = History.of([4, 8, 15], weights=[3.0, 6.0, -3.0])

    scores = scorer.candidate_scores([history, louder], np.repeat(everything, 2, axis=0))

    np.testing.assert_allclose(scores[0], LinearItemModel((taste,)).served().scores(history), atol=TOLERANCE)
    np.testing.assert_allclose(scores[1], scores[0], atol=TOLERANCE)
    by_hand = rows.astype(np.float16).astype(np.float64)[[4, 8, 15]].T @ [1.0, 2.0, -1.0] / (4 / 3)  # mass 4 of 3
    np.testing.assert_allclose(scores[0], by_hand, atol=1e-4)


def test_an_item_index_outside_the_model_is_refused_before_the_graph_runs(
    exported: dict[Family, tuple[LinearItemModel, OnnxScorer]],
) -> None:
    _, scorer = exported["ease"]

    with pytest.raises(ValueError, match=f"history item index is outside 0..{ITEMS - 1}"):
        scorer.top([History.of([3, ITEMS])], 5)
    with pytest.raises(ValueError, match="candidate item index"):
        scorer.candidate_scores([History.of([3])], np.array([[-1]]))
