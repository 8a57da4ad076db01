"""What the trainer learns and how it is measured, on generated data with a planted order."""

from __future__ import annotations

import numpy as np
from bullseye_recommendation.model.linear import LinearItemModel
from bullseye_recommendation.training.blend import BlendSettings
from bullseye_recommendation.training.evaluation import Cases, metrics, sampled_cases
from bullseye_recommendation.training.interactions import Interactions
from bullseye_recommendation.training.pipeline import TrainSettings, train
from bullseye_recommendation.training.sources import Dataset

from tests.recommendation.synthetic import ITEMS, successor, walks

FAST = BlendSettings(spread_sample=64)


def top_is_successor(model: LinearItemModel, data: Interactions) -> float:
    """Share of people whose best-scored item is the successor of their latest item."""
    hits = []
    for person in range(data.n_persons):
        history = data.history(person)
        hits.append(int(np.argmax(model.scores(history))) == successor(int(history.items[0])))
    return float(np.mean(hits))


def test_the_sequence_model_predicts_the_successor_where_the_order_blind_model_cannot() -> None:
    dataset = Dataset(interactions=walks(), item_ids=[str(i) for i in range(ITEMS)])

    sequence = train(dataset, TrainSettings(family="sequence", blend=FAST))
    ease = train(dataset, TrainSettings(family="ease", blend=FAST))

    assert top_is_successor(sequence.model, dataset.interactions) > 0.7
    assert top_is_successor(ease.model, dataset.interactions) < 0.5  # successor or predecessor: a coin
    assert sequence.metrics.ndcg_at_10 > ease.metrics.ndcg_at_10 + 0.03


def test_the_blend_weights_are_chosen_on_validation_and_recorded() -> None:
    dataset = Dataset(interactions=walks(), item_ids=[str(i) for i in range(ITEMS)])

    blend = train(dataset, TrainSettings(family="blend", blend=FAST))

    tried = blend.details["tried"]
    assert set(tried) == {f"{w:g}@{e:g}" for w in FAST.grid for e in FAST.mass_grid}
    assert blend.details["validation"]["ndcg_at_10"] == max(tried.values())
    assert blend.details["taste"] in FAST.grid and blend.details["mass"] in FAST.mass_grid


def test_dataset_cases_are_scored_by_a_model_fitted_on_everything_else() -> None:
    data = walks()
    held, targets = data.without_last()
    cases = sampled_cases(held, targets, negatives=20, seed=1)
    dataset = Dataset(interactions=held, item_ids=[str(i) for i in range(ITEMS)], cases=cases)

    trained = train(dataset, TrainSettings(family="sequence", blend=FAST))

    assert trained.protocol == "dataset test cases"
    assert trained.metrics.cases == len(cases) == data.n_persons
    assert trained.metrics.hr_at_10 > 0.8


def test_leave_one_out_holds_out_each_persons_latest_item() -> None:
    data = Interactions.of(
        np.array([0, 0, 0, 1, 2, 2]), np.array([4, 5, 6, 7, 8, 9]), np.array([3, 1, 2, 0, 1, 0]),
        n_persons=3, n_items=10,
    )  # fmt: skip
    held, targets = data.without_last()

    assert targets.tolist() == [4, -1, 8]  # person 1 has a single item: nothing to hold out
    assert held.history(0).items.tolist() == [6, 5]
    assert held.history(1).items.tolist() == [7]


def test_sampled_negatives_are_items_the_person_never_touched() -> None:
    data = walks(persons=50)
    held, targets = data.without_last()
    cases = sampled_cases(held, targets, negatives=30, seed=5)

    for person, target, candidates in zip(cases.persons, cases.targets, cases.candidates, strict=True):
        touched = set(held.history(int(person)).items.tolist())
        assert target in candidates and len(candidates) == 31
        assert not touched & (set(candidates.tolist()) - {int(target)})


def test_rank_counts_candidates_scored_strictly_higher() -> None:
    cases = Cases.of(np.array([0, 1]), np.array([3, 3]), [np.array([1, 2, 3, 4]), np.arange(20)])
    tied = np.zeros(4)  # the target ties everyone: rank 0, a hit at the top
    last = np.r_[np.arange(20.0, 0, -1)]  # item 3 scored 17: three candidates above it

    result = metrics(cases, [tied, last])

    assert result.hr_at_10 == 1.0
    assert np.isclose(result.ndcg_at_10, (1.0 + 1.0 / np.log2(3 + 2)) / 2)
