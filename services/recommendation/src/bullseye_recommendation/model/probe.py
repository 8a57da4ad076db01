"""`python -m bullseye_recommendation.model.probe DIR`: what serving a model folder costs.

Loads the model as a serving process would (checksum verified, one onnxruntime session,
one intra-op thread), then times single-person calls one after another: top-k with the
history masked, and the scores of 100 candidates (the evaluation protocol's call). Prints
JSON: per-call latency percentiles in milliseconds and the process's resident memory (peak
and now, from /proc). Run it in a fresh process so the memory is the model's alone.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bullseye_recommendation.domain.history import History
from bullseye_recommendation.model.files import ModelFiles
from bullseye_recommendation.model.runtime import OnnxScorer


def memory() -> dict[str, float]:
    """VmHWM (peak) and VmRSS of this process in MB; empty where /proc lacks them."""
    status = Path("/proc/self/status")
    fields = {}
    if status.exists():
        for line in status.read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                fields[key] = int(value.split()[0]) / 1024
    return fields


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "calls": len(ms)}


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    spent = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        spent.append(time.perf_counter() - started)
    return spent


def probe(folder: Path, *, length: int, calls: int, k: int, seed: int = 0) -> dict[str, object]:
    ModelFiles(folder).verify()
    scorer = OnnxScorer(ModelFiles(folder).model)
    loaded = memory()
    rng = np.random.default_rng(seed)
    n = scorer.n_items
    history = History.of(rng.choice(n, size=min(length, n), replace=False))
    exclude = np.zeros((1, n), dtype=np.bool_)
    exclude[0, history.items] = True
    candidates = rng.choice(n, size=(1, min(100, n)), replace=False)
    timed(lambda: scorer.top([history], k, exclude), 50)  # warm-up: first calls allocate
    top = timed(lambda: scorer.top([history], k, exclude), calls)
    scored = timed(lambda: scorer.candidate_scores([history], candidates, exclude), calls)
    return {
        "model": str(folder),
        "items": n,
        "history_length": len(history),
        "top_k": {"k": k, **percentiles(top)},
        "candidates_100": percentiles(scored),
        "rss_mb_after_load": loaded.get("VmRSS"),
        "rss_mb_peak": memory().get("VmHWM"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bullseye_recommendation.model.probe", description=__doc__)
    parser.add_argument("folder", type=Path, help="a folder with model.onnx and metadata.json")
    parser.add_argument("--length", type=int, default=50, help="items in the probe's history (default 50)")
    parser.add_argument("--calls", type=int, default=2000, help="calls timed per mode (default 2000)")
    parser.add_argument("--k", type=int, default=10, help="top-k asked (default 10)")
    args = parser.parse_args(argv)
    print(json.dumps(probe(args.folder, length=args.length, calls=args.calls, k=args.k), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
