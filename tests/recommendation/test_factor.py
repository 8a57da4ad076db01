"""A factored channel scores like the dense one where the matrix has no more than its rank."""

from __future__ import annotations

import numpy as np
import pytest
from bullseye_recommendation.domain.history import History
from bullseye_recommendation.model.linear import Channel
from bullseye_recommendation.training.factor import factored


def test_a_matrix_of_low_rank_is_factored_exactly_and_scores_alike() -> None:
    rng = np.random.default_rng(2)
    matrix = rng.standard_normal((40, 5)) @ rng.standard_normal((5, 40))
    dense = Channel("taste", 1.0, matrix.astype(np.float32))

    compact = factored(dense, 8)

    assert compact.basis is not None and compact.rows.shape == (40, 8) and compact.basis.shape == (8, 40)
    history = History.of([3, 17, 29], weights=[1.0, 2.0, -1.0])
    np.testing.assert_allclose(compact.scores(history), dense.scores(history), atol=1e-4)
    candidates = np.array([0, 5, 39])
    np.testing.assert_allclose(compact.scores(history, candidates), dense.scores(history)[candidates], atol=1e-4)


def test_a_rank_that_saves_nothing_leaves_the_channel_dense_and_a_factored_one_is_refused() -> None:
    dense = Channel("taste", 1.0, np.eye(10, dtype=np.float32))

    assert factored(dense, 5) is dense
    with pytest.raises(ValueError, match="only a dense channel"):
        factored(factored(Channel("taste", 1.0, np.eye(40, dtype=np.float32)), 4), 2)
