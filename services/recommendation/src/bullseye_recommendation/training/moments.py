"""Second moments of "history so far -> what came next", summed over every step of every person.

For a person with items i_0 .. i_last (weights w), each step t >= 1 is one training row:
the features are the history before t read through each channel's recency kernel,
    h_t^c = Σ_{s<t} w_s · γ_c^(t-1-s) · e(i_s),
and the target is what came from t on, the nearer the more,
    y_t = Σ_{r>=t} w_r · β^(r-t) · e(i_r).
Ridge regression needs only G = Σ_t h_t h_tᵀ and X = Σ_t h_t y_tᵀ, and both are sums over
*pairs* of one person's rows, with a weight that depends on how far apart they are and how
many steps follow them (geometric sums, closed form below). Materialising the rows would
cost Σ_person length² entries (~10⁹ for MovieLens-1M); the pairs within `window` steps cost
window × interactions, scattered into dense blocks. Pairs further
apart than `window` are dropped: they weigh γ^window, negligible for the decays used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bullseye_recommendation.arrays import FloatArray, IntArray
from bullseye_recommendation.training.interactions import Interactions


@dataclass(frozen=True, kw_only=True)
class Kernel:
    """Recency kernels of the features (one decay per channel), of the targets, and the reach."""

    decays: tuple[float, ...]
    future: float
    window: int

    def __post_init__(self) -> None:
        if not self.decays or not all(0 <= d < 1 for d in self.decays) or not 0 <= self.future < 1:
            raise ValueError("decays and future must lie in [0, 1): a decay of 1 never forgets and has no window")
        if self.window < 1:
            raise ValueError("window must be at least 1")


@dataclass(frozen=True)
class Moments:
    gram: FloatArray  # [channels·items, channels·items]
    cross: FloatArray  # [channels·items, items]


def geometric(ratio: float, terms: IntArray) -> FloatArray:
    """Σ_{k<terms} ratio^k, elementwise."""
    if ratio == 1.0:
        return terms.astype(np.float64)
    return np.asarray((1.0 - ratio ** terms.astype(np.float64)) / (1.0 - ratio))


class _Blocks:
    """Dense [items, items] blocks, each pair added where its two items meet."""

    def __init__(self, count: int, n_items: int) -> None:
        self.n = n_items
        self.dense = [np.zeros(n_items * n_items) for _ in range(count)]

    def add(self, block: int, keys: IntArray, weights: FloatArray) -> None:
        # ufunc.at got a fast path in numpy 1.25: twice bincount's speed here, and no
        # items²-sized temporary per call
        np.add.at(self.dense[block], keys, weights)

    def result(self, block: int) -> FloatArray:
        return self.dense[block].reshape(self.n, self.n)


def moments(data: Interactions, kernel: Kernel) -> Moments:
    """G and X for `data` under `kernel` (see the module's docstring)."""
    decays = kernel.decays
    pairs = [(k, m) for k in range(len(decays)) for m in range(k, len(decays))]
    blocks = _Blocks(len(pairs) + len(decays), data.n_items)
    last = data.starts[data.persons + 1] - 1
    rows = np.arange(len(data))
    for offset in range(kernel.window + 1):
        older, newer = rows[: len(rows) - offset], rows[offset:]
        same = data.persons[older] == data.persons[newer]
        older, newer = older[same], newer[same]
        if not len(older):
            break
        strength = data.weights[older] * data.weights[newer]
        forward = data.items[older] * data.n_items + data.items[newer]
        backward = data.items[newer] * data.n_items + data.items[older]
        steps_after = last[newer] - newer  # training rows that see both items
        for block, (k, m) in enumerate(pairs):
            shared = strength * geometric(decays[k] * decays[m], steps_after)
            blocks.add(block, forward, shared * decays[k] ** offset)
            if offset:
                blocks.add(block, backward, shared * decays[m] ** offset)
        if offset:
            for k, decay in enumerate(decays):
                blocks.add(len(pairs) + k, forward, strength * _cross_weight(decay, kernel.future, offset))
    return _assemble(blocks, pairs, len(decays), data.n_items)


def _cross_weight(decay: float, future: float, offset: int) -> float:
    """Σ over the steps t between an item and one `offset` later: decay^(t-1-s) · future^(r-t)."""
    k = np.arange(offset)
    return float(np.sum(decay**k * future ** (offset - 1 - k)))


def _assemble(blocks: _Blocks, pairs: list[tuple[int, int]], channels: int, n: int) -> Moments:
    gram = np.zeros((channels * n, channels * n))
    for block, (k, m) in enumerate(pairs):
        dense = blocks.result(block)
        gram[k * n : (k + 1) * n, m * n : (m + 1) * n] = dense
        if k != m:
            gram[m * n : (m + 1) * n, k * n : (k + 1) * n] = dense.T
    cross = np.vstack([blocks.result(len(pairs) + k) for k in range(channels)])
    return Moments(gram=gram, cross=cross)
