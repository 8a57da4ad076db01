"""The report's identity quality per trap: one table per set of journeys, a row per trap.

The realistic journeys (issue 17's situations) have a section of their own beside the
project's own journeys, so that both sets' figures read side by side.
"""

from __future__ import annotations

from bullseye_devtools.demo.context import Section
from bullseye_devtools.quality.run import QualityRun
from bullseye_devtools.quality.traps import TrapQuality

HEADER = ("trap", "persons", "events", "unscorable", "not resolved", "precision", "recall", "wrong pairs",
          "missed pairs")  # fmt: skip
NOTE = (
    "pairs involving the events of each trap's persons (a pair across two traps counts in both); "
    "not resolved: rejected by ingestion"
)


def _row(trap: str, figures: TrapQuality) -> tuple[str, ...]:
    p = figures.pairs
    counts = (figures.persons, figures.events, figures.unscorable, figures.not_resolved)
    return (trap, *(f"{n:,}" for n in counts), f"{p.precision:.4f}", f"{p.recall:.4f}", f"{p.wrong:,}", f"{p.missed:,}")


def trap_section(title: str, run: QualityRun) -> Section:
    rows = [_row(trap, figures) for trap, figures in run.by_trap().items()]
    return Section(title, rows, NOTE, header=HEADER)


def realistic_sections(run: QualityRun) -> list[Section]:
    """The realistic journeys overall, then per trap."""
    q = run.quality
    summary = Section(
        "Identity quality on realistic journeys (households, kiosks, placeholders, mailboxes, ...)",
        [
            ("persons (generated / resolved)", f"{run.journeys.persons:,} / {run.persons:,}"),
            ("events (scorable / unscorable)", f"{q.scorable:,} / {q.unscorable:,}"),
            ("rejected by ingestion", f"{run.sent.rejected:,}"),
            ("pairwise precision", f"{q.precision:.4f} ({q.correct_pairs:,} of {q.predicted_pairs:,} pairs)"),
            ("pairwise recall", f"{q.recall:.4f} ({q.found_pairs:,} of {q.linkable_pairs:,} linkable pairs)"),
        ],
        "ground truth: what a correct system links (a value several persons use links nobody); "
        "issue 17's target: precision >= 0.99, recall >= 0.97",
    )
    return [summary, trap_section("Identity quality per trap (realistic journeys)", run)]
