"""Reference points measured beside our models, never served: item popularity, and the
`implicit` library's ALS (Hu, Koren & Volinsky, ICDM 2008), the usual matrix-factorization
peer. ALS keeps a vector per person, so it cannot score a history it has not trained on
(no fold-in): one more reason the served families are history-in, scores-out.

`implicit` is an optional dependency (`bullseye-recommendation[peers]`, and the dev group).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from bullseye_recommendation.arrays import FloatArray, IntArray
from bullseye_recommendation.domain.history import History
from bullseye_recommendation.training.evaluation import Cases, Metrics, case_scores, metrics
from bullseye_recommendation.training.interactions import Interactions


@dataclass(frozen=True, kw_only=True)
class AlsSettings:
    """The settings of the data's README baseline (iALS 0.711 / 0.442 on these files)."""

    factors: int = 64
    regularization: float = 0.05
    alpha: float = 2.0
    iterations: int = 15
    seed: int = 0


@dataclass(frozen=True)
class PeerResult:
    metrics: Metrics
    seconds: float  # fit only
    model_bytes: int


def popularity(data: Interactions, cases: Cases) -> PeerResult:
    started = time.monotonic()
    counts = np.bincount(data.items, minlength=data.n_items).astype(np.float64)
    seconds = time.monotonic() - started
    result = metrics(cases, case_scores(cases, data, lambda _, __, items: counts[items]))
    return PeerResult(result, seconds, counts.astype(np.float32).nbytes)


def als(data: Interactions, cases: Cases, settings: AlsSettings) -> PeerResult:
    """Raises: ImportError with the install hint when `implicit` is absent."""
    try:
        from implicit.cpu.als import AlternatingLeastSquares
    except ImportError as exc:  # optional by design: torch-free, but not needed to serve
        raise ImportError("the ALS peer needs `implicit`: install bullseye-recommendation[peers]") from exc
    matrix = scipy.sparse.csr_matrix((data.weights, (data.persons, data.items)), shape=(data.n_persons, data.n_items))
    model = AlternatingLeastSquares(
        factors=settings.factors,
        regularization=settings.regularization,
        alpha=settings.alpha,
        iterations=settings.iterations,
        random_state=settings.seed,
    )
    started = time.monotonic()
    model.fit(matrix, show_progress=False)
    seconds = time.monotonic() - started
    persons, items = np.asarray(model.user_factors), np.asarray(model.item_factors)

    def scorer(person: int, _: History, candidates: IntArray) -> FloatArray:
        return np.asarray(items[candidates] @ persons[person], dtype=np.float64)

    return PeerResult(metrics(cases, case_scores(cases, data, scorer)), seconds, persons.nbytes + items.nbytes)
