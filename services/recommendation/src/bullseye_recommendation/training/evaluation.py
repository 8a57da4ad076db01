"""The offline protocol of the NCF paper (He et al., WWW 2017): rank the held-out item among
sampled candidates.

Candidates are unique(negatives) plus the held-out item (the original negatives sometimes
contain the held-out item itself; it counts once). Its rank is the number of candidates
scored strictly higher, so ties favour the model as in the paper's code; HR@10 counts ranks
below 10, NDCG@10 adds 1 / log2(rank + 2) for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bullseye_recommendation.arrays import FloatArray, IntArray
from bullseye_recommendation.domain.history import History
from bullseye_recommendation.training.interactions import Interactions

CUTOFF = 10

# (person index, the person's history, candidate items) -> the candidates' scores
CandidateScorer = Callable[[int, History, IntArray], FloatArray]


@dataclass(frozen=True, eq=False)
class Cases:
    """One held-out item per person, with the candidates it is ranked among (itself included)."""

    persons: IntArray
    targets: IntArray
    candidates: list[IntArray]

    def __len__(self) -> int:
        return len(self.persons)

    @classmethod
    def of(cls, persons: IntArray, targets: IntArray, negatives: list[IntArray]) -> Cases:
        candidates = [np.union1d(neg, [t]).astype(np.int64) for neg, t in zip(negatives, targets, strict=True)]
        return cls(persons=persons, targets=targets, candidates=candidates)


@dataclass(frozen=True)
class Metrics:
    hr_at_10: float
    ndcg_at_10: float
    cases: int

    def as_dict(self) -> dict[str, float | int]:
        return {"hr_at_10": self.hr_at_10, "ndcg_at_10": self.ndcg_at_10, "cases": self.cases}


def sampled_cases(data: Interactions, targets: IntArray, *, negatives: int = 99, seed: int = 0) -> Cases:
    """Cases for every person with a target: `negatives` items (all of them in a smaller
    catalogue) drawn uniformly from those the person never touched, as the NCF split was made."""
    rng = np.random.default_rng(seed)
    persons = np.flatnonzero(targets >= 0)
    drawn = []
    for person in persons:
        seen = np.append(data.items[data.starts[person] : data.starts[person + 1]], targets[person])
        allowed = np.setdiff1d(np.arange(data.n_items), seen, assume_unique=False)
        drawn.append(rng.choice(allowed, size=min(negatives, len(allowed)), replace=False).astype(np.int64))
    return Cases.of(persons.astype(np.int64), targets[persons], drawn)


def case_scores(cases: Cases, data: Interactions, scorer: CandidateScorer) -> list[FloatArray]:
    """Each case's candidate scores, from the person's history in `data` (most recent first)."""
    scores = []
    for person, candidates in zip(cases.persons, cases.candidates, strict=True):
        scores.append(scorer(int(person), data.history(int(person)), candidates))
    return scores


def metrics(cases: Cases, scores: list[FloatArray]) -> Metrics:
    """HR@10 and NDCG@10 of the targets among their candidates."""
    ranks = np.array(
        [
            int(np.sum(s > s[np.searchsorted(c, t)]))
            for s, c, t in zip(scores, cases.candidates, cases.targets, strict=True)
        ]
    )
    hit = ranks < CUTOFF
    gains = np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0)
    return Metrics(hr_at_10=float(hit.mean()), ndcg_at_10=float(gains.mean()), cases=len(ranks))
