"""The array types every module speaks: indices, float64 (training, reference), float32 (request
inputs, scores), and a model table of either float32 (training) or float16 (served)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
Float32Array = NDArray[np.float32]
Table = NDArray[np.floating[Any]]
