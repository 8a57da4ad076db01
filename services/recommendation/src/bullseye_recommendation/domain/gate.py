"""The publishing gate: a model is not served if it measured worse than the one served now.

Both models carry the offline metrics the trainer measured (HR@10 and NDCG@10 on held-out
items, training/pipeline.py). A candidate whose figure is lower than the current model's by
more than the tolerance is refused, naming the figure; a figure either model lacks is not
compared. (Two trainings measure on their own held-out items, so a small tolerance absorbs
the noise of a different sample; the checksum is checked apart, and never skipped.)
"""

from __future__ import annotations

from collections.abc import Mapping

GATED = ("hr_at_10", "ndcg_at_10")


def refusals(candidate: Mapping[str, float], current: Mapping[str, float], *, tolerance: float) -> list[str]:
    """Why `candidate` may not replace `current` (empty: it may)."""
    found = []
    for name in GATED:
        if name in candidate and name in current and candidate[name] < current[name] - tolerance:
            found.append(f"{name} {candidate[name]:.4f} is below the current model's {current[name]:.4f} "
                         f"by more than the tolerance {tolerance:g}")  # fmt: skip
    return found
