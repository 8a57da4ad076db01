"""The demo's campaign sections: what the abandoned-cart trigger did, and the A/B broadcast's
report as the service computed it (per arm, uplift with interval and p-value, ROI), with checks."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from bullseye.campaign.v1 import records_pb2 as rpb

from bullseye_devtools.demo.campaigns import CONVERTS, CampaignRun
from bullseye_devtools.demo.context import Check, Section


def _money(value: object) -> str:
    units, nanos = getattr(value, "units", 0), getattr(value, "nanos", 0)
    return f"{units + nanos / 1e9:,.2f} {getattr(value, 'currency_code', '')}".strip()


def cart_section(run: CampaignRun) -> Section:
    reminded = {d.person_id for d in run.cart}
    rows = [
        ("added to cart now (audience members)", f"{len(run.carted):,}"),
        ("of them ordered within the minute", f"{len(run.bought):,}"),
        ("reminders sent a minute after the cart (email)", f"{len(run.cart):,}"),
        ("reminders to someone who had ordered", f"{len(reminded & set(run.bought)):,}"),
    ]
    return Section("Campaign: abandoned cart (after cart_item_added, unless order_completed, 1 minute)", rows)


def sale_sections(run: CampaignRun) -> list[Section]:
    report = run.report
    assert report is not None
    arms = [(a.arm, f"{a.expected_share:.0%}", f"{a.audience:,}", f"{a.sent:,}", f"{a.delivered:,}", f"{a.opened:,}",
             f"{a.clicked:,}", f"{a.converted:,}", f"{a.conversion_rate:.1%}", f"{CONVERTS.get(a.arm, 0):.0%}",
             _money(a.revenue), _money(a.cost), f"{a.roi:,.1f}" if a.HasField("roi") else "-")
            for a in report.arms]  # fmt: skip
    header = ("arm", "share", "audience", "sent", "delivered", "opened", "clicked", "converted", "conversion",
              "true rate", "revenue", "cost", "ROI")  # fmt: skip
    stages = " then ".join(f"{n:,}" for n in run.stage_sizes)
    note = (f"Rollout 20% then 100% (audience measured: {stages}). Intent-to-treat: everyone assigned counts, "
            "messaged or not (capped, no contact); the holdout is never messaged. 'true rate' is the simulation's; "
            "at this audience's size the intervals are wide (a control of a few dozen people).")  # fmt: skip
    uplifts = [(u.variant_id, "conversion" if u.metric == rpb.REPORT_METRIC_CONVERSION else "retention",
                f"{u.lift:+.1%}", f"[{u.ci_low:+.1%}, {u.ci_high:+.1%}]", f"{u.p_value:.4f}",
                "yes" if u.significant else "no", _money(u.incremental_revenue),
                f"{u.incremental_roi:,.1f}" if u.HasField("incremental_roi") else "-")
               for u in report.uplifts if u.computed]  # fmt: skip
    ratio = report.sample_ratio
    return [
        Section("Campaign: A/B broadcast with a 20% holdout and a staged rollout", arms, note=note, header=header),
        Section("Uplift against the holdout (GrowthBook's frequentist engine: delta method, Welch df, 95%)", uplifts,
                header=("variant", "metric", "lift", "95% interval", "p-value", "significant", "incr. revenue",
                        "incr. ROI"),
                note=f"Sample ratio: chi2 {ratio.chi_square:.2f}, p {ratio.p_value:.3f}"
                     f"{' - MISMATCH' if ratio.mismatch else ' (arms as configured)'}."),
    ]  # fmt: skip


def checks(run: CampaignRun, received: Path) -> list[Check]:
    report = run.report
    assert report is not None
    control = next((a for a in report.arms if a.control), None)
    keys: dict[str, set[str]] = defaultdict(set)
    for line in received.read_text().splitlines() if received.exists() else []:
        message = json.loads(line)
        keys[message["person_id"]].add(message["key"])
    sale = {p for p, arm in run.arms.items() if arm != "control"}
    messaged = {d.person_id for d in run.cart}
    return [
        Check("the holdout received nothing", control is not None and control.sent == 0,
              f"{control.audience if control else 0:,} in the holdout, {control.sent if control else 0} sent"),
        Check("nobody who ordered got a cart reminder", not (messaged & set(run.bought)),
              f"{len(messaged):,} reminded, {len(run.bought):,} ordered"),
        Check("at most one message per person and campaign at the sinks", all(len(keys[p]) <= 2 for p in sale),
              f"{sum(len(keys[p]) for p in sale):,} messages to {len(sale):,} people of the sale's variants"),
    ]  # fmt: skip
