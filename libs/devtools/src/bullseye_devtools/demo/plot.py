"""The demo's pictures: the visit funnel and events per type; profiles (RFM, lifecycle, tags,
segments). PNGs drawn with the Agg backend, so no display is needed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bullseye_devtools.demo.profile_report import LIFECYCLE_ORDER, RFM_ORDER
from bullseye_devtools.demo.profiles import ProfileFigures
from bullseye_devtools.traffic import GroundTruth


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _bars(
    axis: Any,
    labels: Sequence[str],
    counts: Sequence[int],
    *,
    color: str,
    title: str,
    texts: Sequence[str] | None = None,
    small: bool = False,
) -> None:
    """Horizontal bars, first label on top, each labelled with `texts` (default: its count)."""
    texts = texts if texts is not None else [f"{n:,}" for n in counts]
    bars = axis.barh(list(labels)[::-1], list(counts)[::-1], color=color)
    axis.bar_label(bars, list(texts)[::-1], padding=3, fontsize=8 if small else None)
    axis.set_title(title)
    axis.tick_params(axis="y", labelsize=8 if small else None)
    axis.spines[["top", "right"]].set_visible(False)
    axis.margins(x=0.25)


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    _pyplot().close(figure)
    return path


def plot_funnel(truth: GroundTruth, path: Path) -> Path:
    """Write the funnel PNG and return its path."""
    figure, (left, right) = _pyplot().subplots(1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1, 1.2]})
    steps = truth.funnel()
    counts = [count for _, count in steps]
    texts = [f"{c:,} ({100 * c / max(1, counts[0]):.1f}%)" for c in counts]
    _bars(left, [label for label, _ in steps], counts, color="#d9480f", texts=texts,
          title="Visits reaching each step (log scale)")  # fmt: skip
    left.set_xscale("log")
    kinds = truth.by_type.most_common()
    _bars(right, [k for k, _ in kinds], [n for _, n in kinds], color="#1971c2",
          title=f"Events per type ({truth.events:,} in all)", small=True)  # fmt: skip
    return _save(figure, path)


def plot_profiles(figures: ProfileFigures, path: Path) -> Path:
    """Write the profiles PNG (RFM segments, lifecycle, tags, segment sizes) and return its path."""
    figure, axes = _pyplot().subplots(2, 2, figsize=(13, 9))
    (rfm, lifecycle), (tags, segments) = axes
    _bars(
        rfm,
        RFM_ORDER,
        [figures.rfm[s] for s in RFM_ORDER],
        color="#2f9e44",
        title=f"RFM segments ({figures.purchasers:,} purchasers)",
    )
    _bars(
        lifecycle,
        LIFECYCLE_ORDER,
        [figures.lifecycle[s] for s in LIFECYCLE_ORDER],
        color="#1971c2",
        title=f"Lifecycle stages ({figures.population:,} profiles)",
    )
    ranked = figures.tags.most_common()
    _bars(tags, [t for t, _ in ranked], [n for _, n in ranked], color="#ae3ec9", title="Profiles per tag")
    _bars(
        segments,
        [s.audience.name for s in figures.segments],
        [len(s.members) for s in figures.segments],
        color="#d9480f",
        title="Segment members",
        small=True,
    )
    return _save(figure, path)  # fmt: skip


def plot_campaign(report: Any, path: Path) -> Path:
    """Conversion per arm (intent-to-treat), and each variant's lift over the holdout with its 95% interval."""
    plt = _pyplot()
    figure, (rates, lifts) = plt.subplots(1, 2, figsize=(11, 4))
    arms = list(report.arms)
    bars = rates.bar(
        [a.arm for a in arms],
        [a.conversion_rate * 100 for a in arms],
        color=["#999999" if a.control else "#3b7dd8" for a in arms],
    )
    rates.bar_label(bars, [f"{a.converted}/{a.audience}" for a in arms], padding=3, fontsize=8)
    rates.set_ylabel("converted, % of the arm")
    rates.set_title("Conversion within 72 h (intent-to-treat)")
    computed = [u for u in report.uplifts if u.computed and u.metric == 1]
    names = [u.variant_id for u in computed]
    centers = [u.lift * 100 for u in computed]
    errors = [[(u.lift - u.ci_low) * 100 for u in computed], [(u.ci_high - u.lift) * 100 for u in computed]]
    lifts.errorbar(names, centers, yerr=errors, fmt="o", capsize=6, color="#d8603b")
    lifts.axhline(0, color="#555555", linewidth=0.8)
    for name, center, u in zip(names, centers, computed, strict=True):
        lifts.annotate(f"p = {u.p_value:.3f}", (name, center), textcoords="offset points", xytext=(10, 0), fontsize=8)
    lifts.set_ylabel("lift over the holdout, %")
    lifts.set_title("Uplift with its 95% interval")
    for axis in (rates, lifts):
        axis.spines[["top", "right"]].set_visible(False)
    return _save(figure, path)
