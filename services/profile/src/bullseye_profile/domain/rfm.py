"""RFM: quintile scores and the named segments of the R x F grid.

Scores (each 1-5, 5 best) are percentile ranks over the purchasers, ties sharing a score:
    score = 1 + floor(5 * worse / n)
where `worse` counts purchasers strictly worse on that dimension (larger recency_days;
fewer orders; less net revenue) and n is the number of purchasers. Unlike ntile(), equal
values never land in different scores, so with many one-order customers F is 1 for all of
them (pandas: 1 + (5 * (s.rank(method="min") - 1) // n)).

Segments by (R, F), the usual grid ("about to sleep" folded into need attention, and the
oldest low-frequency cell called lost):

    F:     1      2      3      4      5
    R=5  new    pot.   pot.   champ  champ
    R=4  prom.  pot.   pot.   loyal  loyal
    R=3  need   need   need   loyal  loyal
    R=2  hib.   hib.   risk   risk   cannot lose
    R=1  lost   lost   risk   risk   cannot lose
"""

from __future__ import annotations

from bullseye.profile.v1 import profile_pb2 as pb

S = pb.RfmSegment
_GRID: dict[int, tuple[int, int, int, int, int]] = {
    5: (S.RFM_SEGMENT_NEW, S.RFM_SEGMENT_POTENTIAL_LOYALISTS, S.RFM_SEGMENT_POTENTIAL_LOYALISTS,
        S.RFM_SEGMENT_CHAMPIONS, S.RFM_SEGMENT_CHAMPIONS),
    4: (S.RFM_SEGMENT_PROMISING, S.RFM_SEGMENT_POTENTIAL_LOYALISTS, S.RFM_SEGMENT_POTENTIAL_LOYALISTS,
        S.RFM_SEGMENT_LOYAL, S.RFM_SEGMENT_LOYAL),
    3: (S.RFM_SEGMENT_NEED_ATTENTION, S.RFM_SEGMENT_NEED_ATTENTION, S.RFM_SEGMENT_NEED_ATTENTION,
        S.RFM_SEGMENT_LOYAL, S.RFM_SEGMENT_LOYAL),
    2: (S.RFM_SEGMENT_HIBERNATING, S.RFM_SEGMENT_HIBERNATING, S.RFM_SEGMENT_AT_RISK,
        S.RFM_SEGMENT_AT_RISK, S.RFM_SEGMENT_CANNOT_LOSE),
    1: (S.RFM_SEGMENT_LOST, S.RFM_SEGMENT_LOST, S.RFM_SEGMENT_AT_RISK,
        S.RFM_SEGMENT_AT_RISK, S.RFM_SEGMENT_CANNOT_LOSE),
}  # fmt: skip


def segment_for(r: int, f: int) -> int:
    """The RfmSegment value of the grid cell (r, f), both 1-5."""
    return _GRID[r][f - 1]


def segment_grid() -> list[int]:
    """The grid flattened for SQL: element (r - 1) * 5 + f (1-based) is segment_for(r, f)."""
    return [segment_for(r, f) for r in range(1, 6) for f in range(1, 6)]
