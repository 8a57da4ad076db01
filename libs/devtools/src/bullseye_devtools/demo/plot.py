"""The demo's picture: the visit funnel and the events per type, as one PNG."""

from __future__ import annotations

from pathlib import Path

from bullseye_devtools.traffic import GroundTruth


def plot_funnel(truth: GroundTruth, path: Path) -> Path:
    """Write the PNG (Agg backend: no display needed) and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1, 1.2]})
    steps = truth.funnel()
    labels, counts = [s[0] for s in steps][::-1], [s[1] for s in steps][::-1]
    bars = left.barh(labels, counts, color="#d9480f")
    left.bar_label(bars, [f"{c:,} ({100 * c / max(1, steps[0][1]):.1f}%)" for c in counts], padding=3)
    left.set_xscale("log")
    left.set_title("Visits reaching each step (log scale)")
    kinds = truth.by_type.most_common()[::-1]
    bars = right.barh([k for k, _ in kinds], [n for _, n in kinds], color="#1971c2")
    right.bar_label(bars, [f"{n:,}" for _, n in kinds], padding=3, fontsize=8)
    right.set_title(f"Events per type ({truth.events:,} in all)")
    right.tick_params(axis="y", labelsize=8)
    for axis in (left, right):
        axis.spines[["top", "right"]].set_visible(False)
        axis.margins(x=0.25)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
