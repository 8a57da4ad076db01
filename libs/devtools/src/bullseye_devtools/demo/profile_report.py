"""The report's profile part: sections (profiles, RFM, lifecycle, tags, segments) and the
claims the demo proves about them, from the `ProfileFigures` profile's API gave."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from bullseye_devtools.demo.context import Check, Section
from bullseye_devtools.demo.profiles import ProfileFigures

RFM_ORDER = (
    "champions", "loyal", "potential loyalists", "new", "promising", "need attention", "at risk", "cannot lose",
    "hibernating", "lost",
)  # fmt: skip
LIFECYCLE_ORDER = ("new", "growing", "stable", "dormant", "churned")


def _share(counts: Counter[str], order: tuple[str, ...], whole: int) -> list[tuple[str, str]]:
    """Every label of `order` (zeros too, so an empty cell shows), then any other label."""
    labels = [*order, *sorted(set(counts) - set(order))]
    return [(label, f"{counts[label]:,} ({100 * counts[label] / whole:.1f}%)" if whole else "0") for label in labels]


def profile_sections(figures: ProfileFigures, *, now: datetime, days: float) -> list[Section]:
    profiles = Section(
        "Profiles",
        [
            ("persons resolved / profiles", f"{figures.persons:,} / {figures.population:,}"),
            ("RESOLVED applied", f"{figures.catch_up_s:.1f} s after identity finished"),
            ("orders / revenue folded", f"{figures.orders:,} / €{figures.revenue:,.2f}"),
            ("profile clock", f"{now:%Y-%m-%d %H:%M:%S} UTC, traffic over the {days:g} days before"),
        ],
        "profile's clock is pinned to the end of the traffic, so windows, RFM recency and lifecycle measure from it",
    )
    rfm = Section(
        f"RFM segments ({figures.purchasers:,} purchasers)",
        _share(figures.rfm, RFM_ORDER, figures.purchasers),
        "quintile scores over all purchasers (RecomputeRfm), named by the R x F grid",
    )
    lifecycle = Section("Lifecycle stages", _share(figures.lifecycle, LIFECYCLE_ORDER, figures.population),
                        "new: first seen < 30 days; dormant: inactive 60+ days; churned: 180+ days")  # fmt: skip
    tags = Section("Tags (profiles carrying each)", _share(figures.tags, (), figures.population))
    return [profiles, rfm, lifecycle, tags, segments_section(figures)]


def segments_section(figures: ProfileFigures) -> Section:
    rows = [
        (s.audience.name, f"{len(s.members):,} members, Estimate {s.estimate:,} ({s.audience.description})")
        for s in figures.segments
    ]
    return Section("Segments (created through the API)", rows, "members: ListMembers; Estimate: the rule sized now")


def profile_checks(figures: ProfileFigures, *, orders_sent: int) -> list[Check]:
    missing = figures.missing[:3]
    segments = figures.segments
    sized = all(s.estimate == len(s.members) == s.member_count for s in segments)
    announced = all(s.facts == s.members for s in segments)
    facts = ", ".join(f"{s.audience.segment_id} {s.entered:,}-{s.exited:,}={len(s.facts):,}" for s in segments)
    rfm_total = sum(figures.rfm.values())
    return [
        Check("every resolved person has a profile", not figures.missing and figures.population == figures.persons,
              f"{figures.persons:,} persons, {figures.population:,} profiles, missing {len(figures.missing):,}"
              + (f" ({', '.join(missing)} ...)" if missing else "")),
        Check("every order folded once", figures.orders == orders_sent,
              f"{figures.orders:,} orders in profiles, {orders_sent:,} order_completed sent"),
        Check("RFM covers every purchaser", rfm_total == figures.purchasers and "unspecified" not in figures.rfm,
              f"{rfm_total:,} purchasers with an RFM segment, RecomputeRfm counted {figures.purchasers:,}"),
        Check("segment members = Estimate", sized,
              "; ".join(f"{s.audience.segment_id} {len(s.members):,}/{s.estimate:,}" for s in segments)),
        Check("segment.entered - exited facts on PROFILE = members", announced, f"entered-exited=in: {facts}"),
    ]  # fmt: skip
