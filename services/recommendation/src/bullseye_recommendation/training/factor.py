"""A channel's matrix replaced by a rank-r product, so a call's cost stops growing with the
history times the catalogue: the taste channel reads a person's whole history.

Randomized SVD (Halko, Martinsson & Tropp, SIAM Review 2011): a Gaussian sketch with
oversampling and two power iterations, then the exact SVD of the small projection. On
MovieLens-1M, EASE at rank 128 keeps only part of the matrix (relative Frobenius error
0.82) yet the blend lost 0.001 HR@10 and 0.002 NDCG@10 (0.8031 / 0.5880 against 0.8041 /
0.5897 dense; rank 256 and 512 measured the same): what the taste channel adds to the
sequence model lives in its leading directions.
"""

from __future__ import annotations

import numpy as np

from bullseye_recommendation.model.linear import Channel

OVERSAMPLE = 32
POWER_ITERATIONS = 2


def factored(channel: Channel, rank: int, *, seed: int = 0) -> Channel:
    """`channel` with rows [items, rank] and a basis [rank, items]; unchanged if the rank
    would not make it smaller.

    Raises:
        ValueError: the channel is already factored, or rank < 1.
    """
    if channel.basis is not None or rank < 1:
        raise ValueError(f"channel {channel.name}: only a dense channel factors, at rank >= 1")
    matrix = channel.rows.astype(np.float64)
    if 2 * rank >= matrix.shape[0]:
        return channel
    sketch = np.random.default_rng(seed).standard_normal((matrix.shape[1], rank + OVERSAMPLE))
    basis = np.linalg.qr(matrix @ sketch)[0]
    for _ in range(POWER_ITERATIONS):
        basis = np.linalg.qr(matrix @ (matrix.T @ basis))[0]
    left, values, right = np.linalg.svd(basis.T @ matrix, full_matrices=False)
    rows = (basis @ left[:, :rank]) * values[:rank]
    return Channel(name=channel.name, decay=channel.decay, rows=rows.astype(np.float32),
                   basis=right[:rank].astype(np.float32))  # fmt: skip
