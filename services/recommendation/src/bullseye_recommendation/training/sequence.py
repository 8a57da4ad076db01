"""The sequence model: what comes next, regressed on the history read at several recencies.

A ridge regression from the multi-scale history h_t (see `moments.py`) to the items that
follow. Two scales suffice on MovieLens-1M: decay 0.5 is "the last two or three items",
0.9 "the current stretch of a few dozen"; a third (0.97) gained 0.003 NDCG@10 on the
validation split for 1.5× the model size, and the long-term taste is the EASE channel's job
(`ease.py`). The penalty has a uniform part (scaled by the mean diagonal of G, so one value
fits data sets of any size) and a part proportional to each feature's own energy, which
shrinks popular items' rows more, as dropout would (Steck, "Autoencoders that don't
overfit towards the identity", NeurIPS 2020).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg

from bullseye_recommendation.model.linear import LinearItemModel
from bullseye_recommendation.training.interactions import Interactions
from bullseye_recommendation.training.moments import Kernel, moments


@dataclass(frozen=True, kw_only=True)
class SequenceSettings:
    """Defaults chosen on MovieLens-1M's validation split (each person's last training item)."""

    kernel: Kernel = field(default_factory=lambda: Kernel(decays=(0.5, 0.9), future=0.5, window=40))
    l2: float = 2.3  # × mean diagonal of G
    l2_energy: float = 4.0  # × each feature's own diagonal


def fit_sequence(data: Interactions, settings: SequenceSettings) -> LinearItemModel:
    """One channel per decay; solves (G + penalty) B = X in place (G is not kept)."""
    stats = moments(data, settings.kernel)
    gram = stats.gram
    energy = np.diag(gram).copy()
    gram[np.diag_indices_from(gram)] += settings.l2 * max(energy.mean(), 1e-12) + settings.l2_energy * energy
    solution = scipy.linalg.solve(gram, stats.cross, assume_a="pos", overwrite_a=True, check_finite=False)
    n = data.n_items
    return LinearItemModel.of(
        *(
            (f"sequence@{decay:g}", decay, solution[c * n : (c + 1) * n])
            for c, decay in enumerate(settings.kernel.decays)
        )
    )
