"""Weighted implicit feedback folds into the history the model reads."""

from __future__ import annotations

import pytest
from bullseye_recommendation.domain.feedback import FeedbackWeights, Signal, fold


def test_net_weight_sums_signals_and_the_latest_touch_orders_the_items() -> None:
    weights = FeedbackWeights()
    history = fold(
        [(1, Signal.VIEW), (2, Signal.VIEW), (1, Signal.CART), (3, Signal.WISHLIST), (2, Signal.PURCHASE)], weights
    )

    assert history.items.tolist() == [2, 3, 1]
    assert history.weights.tolist() == [1.0 + 5.0, 2.0, 1.0 + 3.0]
    assert history.ages.tolist() == [0.0, 1.0, 2.0]


def test_a_refund_takes_a_purchase_back_and_a_bad_review_leaves_a_negative_weight() -> None:
    history = fold([(7, Signal.PURCHASE), (8, Signal.VIEW), (7, Signal.REFUND), (9, Signal.BAD_REVIEW)],
                   FeedbackWeights())  # fmt: skip

    assert history.items.tolist() == [9, 8]
    assert history.weights.tolist() == [-3.0, 1.0]


@pytest.mark.parametrize(
    "broken", [{"view": 4.0}, {"cart": 6.0}, {"refund": 1.0}, {"view": 0.0}], ids=["view", "cart", "refund", "zero"]
)
def test_weights_that_break_the_ladder_are_refused(broken: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"view <= wishlist|subtract"):
        FeedbackWeights(**broken)
