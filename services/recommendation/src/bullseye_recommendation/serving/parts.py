"""The parts' scores over a pool: the model's, content similarity's, popularity's.

The model scores the history it is given (docs/design.md D6): the person's items most recent
first, ages their ranks among the items the model knows, weights their net feedback; the
items of the current context go first (just viewed), so what happened a second ago counts.
Several histories (the person's, the session's alone) go to onnxruntime in one run. An item
the model does not know (published after the training) gets the mean of the pool's model
scores: neutral, so that the other parts decide whether it is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bullseye_recommendation.arrays import FloatArray, IntArray
from bullseye_recommendation.domain import content
from bullseye_recommendation.domain.history import History
from bullseye_recommendation.serving.models import ABSENT, Alignment, ServedModel
from bullseye_recommendation.serving.snapshot import Snapshot


@dataclass(frozen=True, eq=False)
class Trail:
    """Items (snapshot positions, most recent first) with their net weights: a history as
    the catalog knows it, the part every scorer starts from."""

    items: IntArray
    weights: FloatArray

    @classmethod
    def of(cls, snapshot: Snapshot, item_ids: Sequence[str], weights: Sequence[float]) -> Trail:
        found = [snapshot.index.get(i, -1) for i in item_ids]
        positions = np.array(found, dtype=np.int64)
        known = positions >= 0
        return cls(positions[known], np.asarray(weights, dtype=np.float64)[known])

    def then(self, older: Trail) -> Trail:
        """This trail first, then `older`'s items that are not in it."""
        rest = ~np.isin(older.items, self.items)
        return Trail(
            np.concatenate([self.items, older.items[rest]]), np.concatenate([self.weights, older.weights[rest]])
        )

    def __len__(self) -> int:
        return len(self.items)


def model_history(trail: Trail, alignment: Alignment) -> History:
    """The trail as the model reads it: its items the model knows, ages their ranks."""
    indices = alignment.to_model[trail.items]
    known = indices != ABSENT
    return History.of(indices[known], weights=trail.weights[known])


def model_scores(model: ServedModel, alignment: Alignment, trails: Sequence[Trail], pool: IntArray) -> list[FloatArray]:
    """Per trail, the model's score of every pool item (unknown items: the pool's mean)."""
    targets = alignment.to_model[pool]
    known = targets != ABSENT
    candidates = np.repeat(targets[known][None, :], len(trails), axis=0)
    scored = model.scorer.candidate_scores([model_history(t, alignment) for t in trails], candidates)
    out = []
    for row in scored:
        full = np.full(len(pool), float(row.mean()) if len(row) else 0.0)
        full[known] = row
        out.append(full)
    return out


def content_scores(snapshot: Snapshot, trail: Trail, pool: IntArray) -> FloatArray:
    """Each pool item's similarity to the trail's attribute affinity."""
    toward = content.affinity(snapshot.vectors, trail.items, trail.weights)
    return content.scores(snapshot.vectors, pool, toward)


def popularity(snapshot: Snapshot, pool: IntArray) -> FloatArray:
    scores: FloatArray = snapshot.popularity[pool]
    return scores
