"""Content similarity: items described by their attributes, people by the attributes they liked.

An item's vector has one entry per attribute value: each level of its category path (the
leaf weighs most, its ancestors less: two knives are closer than a knife and a pan), its
brand, its tags and its price band (powers of two: 8-16, 16-32, ... in the catalog's
currency). Vectors are scaled to unit length, so the similarity of two items is their
cosine. A person's affinity is the weighted sum of the vectors of the items in their history
(recent and strong signals count more; a refund or a bad review subtracts), and an item's
content score is its vector's dot product with that affinity. An item that no model has seen
yet (published after the last training) is reachable this way from its first minute.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from bullseye_recommendation.arrays import FloatArray, IntArray

LEAF, ANCESTOR_DECAY, BRAND, TAG, PRICE = 1.0, 0.5, 0.8, 0.4, 0.4
RECENCY = 0.9  # an item's weight in an affinity decays by this per step back in the history


@dataclass(frozen=True, slots=True)
class Attributes:
    category_path: tuple[str, ...]
    brand: str
    tags: tuple[str, ...]
    price: float | None


def attribute_weights(item: Attributes) -> dict[str, float]:
    """The item's attribute values and their weights, before scaling to unit length."""
    found: dict[str, float] = {}
    path = item.category_path
    for depth in range(len(path)):
        weight = LEAF * ANCESTOR_DECAY ** (len(path) - 1 - depth)
        found["category:" + "/".join(path[: depth + 1])] = weight
    if item.brand:
        found["brand:" + item.brand.lower()] = BRAND
    for tag in item.tags:
        found["tag:" + tag.lower()] = TAG
    if item.price is not None and item.price > 0:
        found[f"price:{math.floor(math.log2(item.price))}"] = PRICE
    return found


def item_vectors(items: Sequence[Attributes]) -> scipy.sparse.csr_matrix:
    """[items, attribute values] with unit rows (an item without attributes is a zero row)."""
    columns: dict[str, int] = {}
    rows, cols, values = [], [], []
    for row, item in enumerate(items):
        weights = attribute_weights(item)
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        for name, weight in weights.items():
            rows.append(row)
            cols.append(columns.setdefault(name, len(columns)))
            values.append(weight / norm)
    shape = (len(items), max(len(columns), 1))
    return scipy.sparse.csr_matrix((values, (rows, cols)), shape=shape, dtype=np.float64)


def affinity(vectors: scipy.sparse.csr_matrix, items: IntArray, weights: FloatArray) -> FloatArray:
    """The person's attribute affinity from `items` (most recent first) and their net weights,
    at unit length (zero when nothing is known). One product with the whole (sparse) item
    table: cheaper than cutting the history's rows out of it."""
    if len(items) == 0:
        return np.zeros(vectors.shape[1])
    coefficients = np.zeros(vectors.shape[0])
    np.add.at(coefficients, items, np.asarray(weights, dtype=np.float64) * RECENCY ** np.arange(len(items)))
    summed = np.asarray(vectors.T @ coefficients).ravel()
    norm = float(np.linalg.norm(summed))
    return summed / norm if norm > 0 else summed


def scores(vectors: scipy.sparse.csr_matrix, pool: IntArray, toward: FloatArray) -> FloatArray:
    """Each pool item's similarity to the affinity `toward` (a cosine, in [-1, 1]): every item's,
    then the pool's (slicing a sparse table costs more than the whole product)."""
    every: FloatArray = np.asarray(vectors @ toward, dtype=np.float64).ravel()
    return every[pool]
