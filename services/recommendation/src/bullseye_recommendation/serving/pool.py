"""The pool a call ranks: which catalog items may be shown, after every filter.

Unpublished items are never shown. The caller's candidates (re-ranking a search result, an
offline evaluation) narrow the pool to themselves; a context category keeps the items in it;
out-of-stock items, bought items (for a personalized answer), the items named or in the
categories named by the filters, and the items of the context (on screen, just viewed) are
left out.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from bullseye_recommendation.arrays import IntArray
from bullseye_recommendation.serving.asks import Ask, Filters, UnknownItems
from bullseye_recommendation.serving.snapshot import Snapshot


def positions(snapshot: Snapshot, item_ids: Iterable[str]) -> IntArray:
    """Snapshot positions of the ids the catalog has, in order (the others are skipped)."""
    found = [snapshot.index[i] for i in item_ids if i in snapshot.index]
    return np.array(found, dtype=np.int64)


def require(snapshot: Snapshot, field: str, item_ids: Iterable[str]) -> None:
    """Raises: UnknownItems naming those of `item_ids` the catalog does not have."""
    unknown = tuple(i for i in item_ids if i not in snapshot.index)
    if unknown:
        raise UnknownItems(field, unknown)


def pool(snapshot: Snapshot, ask: Ask, *, purchased: Iterable[str] = ()) -> IntArray:
    """Snapshot positions of the items the call may show, in catalog (or candidate) order."""
    if ask.candidates:
        base = positions(snapshot, dict.fromkeys(ask.candidates))
    else:
        base = np.arange(len(snapshot), dtype=np.int64)
    keep = snapshot.published[base].copy()
    if ask.category:
        keep &= np.isin(base, snapshot.in_category(ask.category))
    keep &= ~_excluded(snapshot, ask.filters, [*ask.context_items, *purchased], base)
    chosen: IntArray = base[keep]
    return chosen


def filtered(snapshot: Snapshot, filters: Filters, *, leave_out: Iterable[str] = ()) -> IntArray:
    """Every shown item but those the filters (and `leave_out`) exclude: SimilarItems, Popular."""
    base = np.arange(len(snapshot), dtype=np.int64)
    keep = snapshot.published & ~_excluded(snapshot, filters, leave_out, base)
    chosen: IntArray = base[keep]
    return chosen


def _excluded(snapshot: Snapshot, filters: Filters, items: Iterable[str], base: IntArray) -> NDArray[np.bool_]:
    out = np.isin(base, positions(snapshot, [*filters.items, *items]))
    if filters.exclude_out_of_stock:
        out |= ~snapshot.in_stock[base]
    for category in filters.categories:
        out |= np.isin(base, snapshot.in_category(category))
    return out
