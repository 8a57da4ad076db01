"""The sequence model's sufficient statistics, checked against the training rows written out."""

from __future__ import annotations

import numpy as np
import pytest
from bullseye_recommendation.training.interactions import Interactions
from bullseye_recommendation.training.moments import Kernel, moments


def rows_written_out(data: Interactions, kernel: Kernel) -> tuple[np.ndarray, np.ndarray]:
    """Σ_t h_t h_tᵀ and Σ_t h_t y_tᵀ from every step's feature and target vectors, naively
    (no window: the data are shorter than the kernel's)."""
    n, decays = data.n_items, kernel.decays
    gram = np.zeros((len(decays) * n, len(decays) * n))
    cross = np.zeros((len(decays) * n, n))
    for person in range(data.n_persons):
        items = data.items[data.starts[person] : data.starts[person + 1]]
        weights = data.weights[data.starts[person] : data.starts[person + 1]]
        for t in range(1, len(items)):
            h = np.zeros(len(decays) * n)
            for c, decay in enumerate(decays):
                for s in range(t):
                    h[c * n + items[s]] += weights[s] * decay ** (t - 1 - s)
            y = np.zeros(n)
            for r in range(t, len(items)):
                y[items[r]] += weights[r] * kernel.future ** (r - t)
            gram += np.outer(h, h)
            cross += np.outer(h, y)
    return gram, cross


@pytest.mark.parametrize("decays", [(0.6,), (0.3, 0.8)], ids=["one-channel", "two-channels"])
def test_pairwise_moments_equal_the_sum_over_training_rows(decays: tuple[float, ...]) -> None:
    rng = np.random.default_rng(3)
    persons = np.repeat(np.arange(5), [1, 4, 7, 9, 12])
    items = rng.integers(6, size=len(persons))  # repeats within a person included
    order = rng.permutation(len(persons))
    weights = rng.uniform(0.5, 3.0, size=len(persons))
    data = Interactions.of(persons, items, order, n_persons=5, n_items=6, weights=weights)
    kernel = Kernel(decays=decays, future=0.4, window=20)  # longer than any person: nothing cut off

    got = moments(data, kernel)
    gram, cross = rows_written_out(data, kernel)

    np.testing.assert_allclose(got.gram, gram, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.cross, cross, rtol=1e-10, atol=1e-12)
