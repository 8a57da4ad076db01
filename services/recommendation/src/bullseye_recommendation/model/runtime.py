"""The exported model run by onnxruntime: what serving and the offline checks call.

One session per loaded model file. A serving process answers many calls at once, each small,
so the session uses one intra-op thread by default: a call for one person is a few hundred
microseconds of memory reads, and threads would only contend (see README, latency figures).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from bullseye_recommendation.arrays import Float32Array, IntArray
from bullseye_recommendation.domain.history import History, HistoryBatch

NO_CANDIDATES = np.zeros((1, 0), dtype=np.int64)


@dataclass(frozen=True)
class Ranked:
    """Per person: the top items (best first) and their scores; -inf marks an excluded filler."""

    items: IntArray
    scores: Float32Array


class OnnxScorer:
    """Scores histories with an exported model file."""

    def __init__(self, path: Path, *, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        exclude = next(i for i in self._session.get_inputs() if i.name == "exclude")
        self.n_items = int(exclude.shape[1])

    def top(self, histories: list[History], k: int, exclude: NDArray[np.bool_] | None = None) -> list[Ranked]:
        """The `k` best items per history (k is capped at the catalogue's size).

        Raises:
            ValueError: k < 1, an item index outside the model, or `exclude` not [len(histories), n_items].
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        items, scores, _ = self._run(histories, exclude, np.repeat(NO_CANDIDATES, len(histories), axis=0), k)
        return [Ranked(items=i, scores=s) for i, s in zip(items, scores, strict=True)]

    def candidate_scores(
        self, histories: list[History], candidates: IntArray, exclude: NDArray[np.bool_] | None = None
    ) -> Float32Array:
        """[len(histories), M] scores of each row's M candidates."""
        return self._run(histories, exclude, candidates.astype(np.int64), 1)[2]

    def _run(
        self, histories: list[History], exclude: NDArray[np.bool_] | None, candidates: IntArray, k: int
    ) -> tuple[IntArray, Float32Array, Float32Array]:
        batch = HistoryBatch.of(histories)
        if exclude is None:
            exclude = np.zeros((len(batch), self.n_items), dtype=np.bool_)
        if exclude.shape != (len(batch), self.n_items):
            raise ValueError(f"exclude must be a [{len(batch)}, {self.n_items}] mask")
        for name, indices in (("history", batch.items), ("candidate", candidates)):
            if indices.size and (indices.min() < 0 or indices.max() >= self.n_items):
                raise ValueError(f"a {name} item index is outside 0..{self.n_items - 1}")
        feeds = {
            "history_items": batch.items,
            "history_ages": batch.ages,
            "history_weights": batch.weights,
            "exclude": exclude,
            "candidates": candidates,
            "k": np.array([min(k, self.n_items)], dtype=np.int64),
        }
        top_items, top_scores, candidate_scores = self._session.run(None, feeds)
        return top_items, top_scores, candidate_scores
