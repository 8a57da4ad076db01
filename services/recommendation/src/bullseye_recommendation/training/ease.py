"""EASE (Steck, "Embarrassingly Shallow Autoencoders", WWW 2019): the taste channel.

Item-to-item weights B that rebuild each person's whole item set from the rest of it,
closed form: P = (XᵀX + λI)⁻¹, B = -P / diag(P), diag(B) = 0. Blind to order by design; it
brings the long-term taste that the sequence model's short memory forgets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse

from bullseye_recommendation.model.linear import LinearItemModel
from bullseye_recommendation.training.interactions import Interactions


@dataclass(frozen=True, kw_only=True)
class EaseSettings:
    l2: float = 500.0  # the paper's range for MovieLens-sized data; 500 was best on the validation split


def fit_ease(data: Interactions, settings: EaseSettings) -> LinearItemModel:
    """One channel, decay 1: every item of the history counts alike."""
    x = scipy.sparse.csr_matrix((data.weights, (data.persons, data.items)), shape=(data.n_persons, data.n_items))
    gram = (x.T @ x).toarray()
    gram[np.diag_indices_from(gram)] += settings.l2
    inverse = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    return LinearItemModel.of(("ease", 1.0, weights))
