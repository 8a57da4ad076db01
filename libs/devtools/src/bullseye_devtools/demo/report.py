"""The demo's report: sections of label/value rows and checks, as console text and Markdown."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from bullseye_devtools.demo.context import DemoContext, Section
from bullseye_devtools.quality.run import QualityRun
from bullseye_devtools.traffic import GroundTruth, SendStats


def _euros(cents: int) -> str:
    return f"€{cents / 100:,.2f}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def traffic_sections(truth: GroundTruth, shoppers: int, seed: int) -> list[Section]:
    """What was generated: population, events by type, the funnel and the money."""
    population = Section(
        "Traffic generated",
        [
            ("shoppers (seed)", f"{shoppers:,} (seed {seed})"),
            ("events", f"{truth.events:,}"),
            ("devices (anonymous ids)", f"{truth.devices:,}"),
            ("accounts seen (user ids)", f"{truth.users:,}"),
            ("visits (sessions)", f"{truth.sessions:,}"),
        ],
    )
    by_type = Section("Events sent by type", [(kind, f"{count:,}") for kind, count in truth.by_type.most_common()])
    return [population, by_type, funnel_section(truth)]


def funnel_section(truth: GroundTruth) -> Section:
    steps = truth.funnel()
    rows = [(steps[0][0], f"{steps[0][1]:,}")]
    for (_, before), (label, count) in itertools.pairwise(steps):
        rows.append((label, f"{count:,}  ({_pct(count, before)} of previous, {_pct(count, steps[0][1])} of visits)"))
    orders = truth.by_type["order_completed"]
    rows += [
        ("add to cart per product view", _pct(truth.by_type["cart_item_added"], truth.by_type["product_viewed"])),
        ("revenue", f"{_euros(truth.revenue_cents)} from {orders:,} orders"),
        ("average order", _euros(truth.average_order_cents)),
        ("refunds", f"{truth.by_type['order_refunded']:,} ({_pct(truth.by_type['order_refunded'], orders)} of orders)"
         f", {_euros(truth.refunded_cents)}"),
    ]  # fmt: skip
    return Section("Funnel (visits reaching each step)", rows, "view -> cart -> checkout -> order, per visit")


def sending_section(stats: SendStats) -> Section:
    retries = ", ".join(f"{n} {code}" for code, n in stats.retries.items()) or "none"
    return Section(
        "Ingestion (TrackBatch, 100 events per call)",
        [
            ("events sent", f"{stats.events:,} in {stats.calls:,} calls, {stats.elapsed:.1f} s"),
            ("accepted / duplicates / rejected", f"{stats.accepted:,} / {stats.duplicates:,} / {stats.rejected:,}"),
            ("throughput", f"{stats.throughput:,.0f} events/s"),
            ("latency per call p50 / p99", f"{_ms(stats.percentile(0.5))} / {_ms(stats.percentile(0.99))}"),
            ("retries", retries),
        ],
        "an OK answer means JetStream acknowledged every accepted event (fsync always)",
    )  # fmt: skip


def _counts(counts: dict[str, float]) -> str:
    return ", ".join(f"{n:,.0f} {name}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"


def identity_sections(run: QualityRun) -> list[Section]:
    """Who the traffic turned out to be, and how right identity was on the journeys."""
    res, q, journeys = run.resolution, run.quality, run.journeys
    everything = Section(
        "Identity (all traffic)",
        [
            ("events resolved", f"{len(res.person_of):,}"),
            ("persons", f"{len(set(res.final().values())):,}"),
            ("merges (by rule)", f"{res.merges:,}: {_counts(dict(res.merge_rules))}"),
            ("conflicts (links refused by a limit)", f"{sum(run.conflicts.values()):,.0f}: {_counts(run.conflicts)}"),
        ],
        "a conflict is a link identity refused because it would break a limit (a second user id, too many devices)",
    )
    unscorable = ", ".join(f"{n:,} {why}" for why, n in run.truth.unscorable.items()) or "none"
    quality = Section(
        "Identity quality (cross-device journeys with ground truth)",
        [
            ("persons (generated / resolved)", f"{journeys.persons:,} / {run.persons:,}"),
            ("events (scorable / unscorable)", f"{q.scorable:,} / {q.unscorable:,} ({unscorable})"),
            ("traps (persons drawn)", _counts(dict(journeys.traps))),
            ("pairwise precision", f"{q.precision:.4f} ({q.correct_pairs:,} of {q.predicted_pairs:,} pairs)"),
            ("pairwise recall", f"{q.recall:.4f} ({q.found_pairs:,} of {q.linkable_pairs:,} linkable pairs)"),
        ],
        "recall counts what the rules can link; events with only shared or blocked ids, "
        "or typed logged out on a shared device, are unscorable",
    )
    return [everything, quality]


def _title(ctx: DemoContext) -> str:
    return f"Bullseye demo — {ctx.options.shoppers:,} shoppers, seed {ctx.options.seed}"


def _text_rows(section: Section) -> list[str]:
    if not section.header:
        return [f"  {label:<34} {value}" for label, value in section.rows]
    table = [section.header, *section.rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(section.header))]
    lines = ["  " + "  ".join(_cells(row, widths)) for row in table]
    return [lines[0], "  " + "  ".join("-" * w for w in widths), *lines[1:]]


def _cells(row: tuple[str, ...], widths: list[int]) -> list[str]:
    """The first cell (a name) left-aligned, the figures after it right-aligned."""
    return [cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))]


def _markdown_rows(section: Section) -> list[str]:
    header = section.header or ("", "")
    lines = [f"| {' | '.join(header)} |", "|" + "---|" * len(header)]
    return lines + [f"| {' | '.join(row)} |" for row in section.rows]


def to_text(ctx: DemoContext) -> str:
    lines = ["", _title(ctx), "=" * len(_title(ctx))]
    for section in ctx.sections:
        lines += ["", section.title, "-" * len(section.title)]
        lines += _text_rows(section)
        if section.note:
            lines.append(f"  ({section.note})")
    lines += ["", "Checks", "------"]
    lines += [f"  {'✓' if c.ok else '✗'} {c.claim}: {c.detail}" for c in ctx.checks]
    lines += [f"  report: {path}" for path in ctx.files]
    return "\n".join(lines)


def to_markdown(ctx: DemoContext) -> str:
    lines = [f"# {_title(ctx)}", "", f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make demo`.", ""]
    for section in ctx.sections:
        lines += [f"## {section.title}", "", *_markdown_rows(section)]
        lines += ["", f"_{section.note}_", ""] if section.note else [""]
    lines += ["## Checks", ""]
    lines += [f"- {'✅' if c.ok else '❌'} **{c.claim}**: {c.detail}" for c in ctx.checks]
    lines += [""] + [f"![{path.stem}]({path.name})" for path in ctx.files if path.suffix == ".png"] + [""]
    return "\n".join(lines)
