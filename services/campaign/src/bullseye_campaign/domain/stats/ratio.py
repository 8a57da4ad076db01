"""Sample-ratio mismatch: do the arms hold the shares they were configured with?

A chi-square goodness-of-fit test of the observed arm sizes against the configured
weights; a p-value below 0.001 (the threshold GrowthBook and most platforms use, so that
a check run every day rarely cries wolf) means assignment or counting is broken and no
uplift from the experiment can be trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy import special

SRM_ALPHA = 0.001


@dataclass(frozen=True)
class SampleRatio:
    chi_square: float
    p_value: float
    mismatch: bool


def sample_ratio(observed: Sequence[int], weights: Sequence[float], *, alpha: float = SRM_ALPHA) -> SampleRatio:
    """Chi-square of `observed` arm sizes against `weights` (any positive scale).

    Raises:
        ValueError: fewer than two arms, lengths differ, or a weight is not positive.
    """
    if len(observed) != len(weights) or len(observed) < 2:
        raise ValueError("give two or more arms, one weight per observed count")
    if any(w <= 0 for w in weights):
        raise ValueError("weights must be positive")
    total, scale = sum(observed), sum(weights)
    if total == 0:
        return SampleRatio(0.0, 1.0, mismatch=False)
    expected = [total * w / scale for w in weights]
    chi_square = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    p_value = float(special.chdtrc(len(observed) - 1, chi_square))
    return SampleRatio(chi_square, p_value, mismatch=p_value < alpha)
