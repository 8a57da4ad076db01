"""`make demo` end to end, as a subprocess: its own stack, traffic, report, checks."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from bullseye_devtools.demo.audiences import AUDIENCES
from bullseye_devtools.traffic.realistic import SITUATIONS

from tests.tools import run_tool


def section(markdown: str, title: str) -> dict[str, str]:
    """The label -> value rows of the report section whose heading starts with `title`."""
    body = re.search(rf"^## {re.escape(title)}.*?\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert body, f"no section {title!r}"
    rows = re.findall(r"^\| (.+?) \| (.+?) \|$", body[1], re.M)
    return {label: value for label, value in rows if label.strip() and not set(label) <= {"-"}}


def count(value: str) -> int:
    """The leading number of a cell such as '1,234 (12.0%)'."""
    return int(value.split()[0].replace(",", ""))


@pytest.mark.timeout(340)  # the run's own limit is 300 s, then 20 s to stop (below)
def test_demo_runs_end_to_end_resolves_every_event_and_reports_identity_quality_and_profiles(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = run_tool(
        [sys.executable, "-m", "bullseye_devtools.demo", "--shoppers", "50", "--resend", "100", "--journeys", "40",
         "--realistic", "40", "--data-dir", str(tmp_path / "demo"), "--report-dir", str(reports)],
        timeout=300,  # the cart reminders wait their minute
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    markdown = (reports / "demo.md").read_text()
    assert "✅ **stream messages = accepted**" in markdown
    assert "✅ **every catalog item published on CATALOG**" in markdown
    assert "✅ **resent events come back as duplicates**: 100 resent: 100 duplicates" in markdown
    assert "✅ **every accepted event resolved once**" in markdown
    assert "## Identity quality (cross-device journeys with ground truth)" in markdown
    for row in (
        "| persons |",
        "| merges (by rule) |",
        "| conflicts (links refused by a limit) |",
        "| pairwise precision |",
        "| pairwise recall |",
        "| events (scorable / unscorable) |",
    ):
        assert row in markdown, row
    assert "❌" not in markdown
    check_trap_tables(markdown)
    check_campaign_sections(markdown)
    for png in ("demo-funnel.png", "demo-profiles.png", "demo-campaign.png"):
        assert (reports / png).read_bytes()[:4] == b"\x89PNG"
        assert f"({png})" in markdown
    check_profile_sections(markdown)
    check_recommendation_sections(markdown)
    assert "p50 / p99" in done.stdout
    assert not list((tmp_path / "demo" / "nats").glob("*.pid")), "nothing left behind"


def check_campaign_sections(markdown: str) -> None:
    """The campaigns ran: reminders went to those who did not order, the holdout got nothing, and
    the A/B report has an arm per variant and the holdout, with uplifts."""
    for claim in ("the holdout received nothing", "nobody who ordered got a cart reminder",
                  "at most one message per person and campaign at the sinks"):  # fmt: skip
        assert f"✅ **{claim}**" in markdown, claim
    cart = section(markdown, "Campaign: abandoned cart")
    assert count(cart["reminders to someone who had ordered"]) == 0
    assert count(cart["reminders sent a minute after the cart (email)"]) > 0
    arms = section(markdown, "Campaign: A/B broadcast with a 20% holdout and a staged rollout")
    assert {"control", "ten-off", "free-shipping"} <= set(arms)
    assert "Uplift against the holdout" in markdown


def check_trap_tables(markdown: str) -> None:
    """A table per trap for the project's journeys and for the realistic ones; persons add up."""
    assert "✅ **every accepted realistic event resolved once**" in markdown
    realistic = section(markdown, "Identity quality on realistic journeys")
    assert realistic["persons (generated / resolved)"].startswith("40 / ")
    for journeys in ("cross-device", "realistic"):
        rows = section(markdown, f"Identity quality per trap ({journeys} journeys)")
        assert rows.pop("trap").startswith("persons | events | unscorable | not resolved | precision | recall")
        assert "ordinary" in rows and sum(count(cells) for cells in rows.values()) == 40
    assert set(section(markdown, "Identity quality per trap (realistic")) == {"trap", *SITUATIONS, "ordinary"}


def check_profile_sections(markdown: str) -> None:
    """Profiles, RFM, lifecycle, tags and segments are reported, their checks passed, and the
    figures add up: every profile has one lifecycle stage, every purchaser one RFM segment."""
    for claim in (
        "every resolved person has a profile", "every order folded once", "RFM covers every purchaser",
        "segment members = Estimate", "segment.entered - exited facts on PROFILE = members",
    ):  # fmt: skip
        assert f"✅ **{claim}**" in markdown, claim
    persons, profiles = section(markdown, "Profiles")["persons resolved / profiles"].replace(",", "").split(" / ")
    assert int(persons) == int(profiles) > 0
    assert sum(count(v) for v in section(markdown, "Lifecycle stages").values()) == int(profiles)
    purchasers = int(re.search(r"^## RFM segments \(([\d,]+) purchasers\)", markdown, re.M)[1].replace(",", ""))  # type: ignore[index]
    assert sum(count(v) for v in section(markdown, "RFM segments").values()) == purchasers > 0
    tags = section(markdown, "Tags")
    assert tags and all(0 < count(v) <= int(profiles) for v in tags.values())
    segments = section(markdown, "Segments")
    assert set(segments) == {audience.name for audience in AUDIENCES}
    for value in segments.values():
        members, estimate = re.match(r"([\d,]+) members, Estimate ([\d,]+)", value).groups()  # type: ignore[union-attr]
        assert members == estimate


def check_recommendation_sections(markdown: str) -> None:
    """A model trained on the traffic is served, and three shoppers get five items with reasons."""
    for claim in (
        "a model trained on the demo traffic is published and served",
        "every shopper gets recommendations with reasons", "a new shopper gets a cold start",
    ):  # fmt: skip
        assert f"✅ **{claim}**" in markdown, claim
    version = section(markdown, "Recommendation model")["version"]
    for shopper in ("new shopper", "loyal shopper", "mid-session shopper"):
        body = re.search(rf"^## Recommendations for a {shopper}.*?\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
        assert body, shopper
        assert len(re.findall(r"^\| \d \|", body[1], re.M)) == 5
    assert markdown.count(f"model {version}") == 2  # the known shoppers; the new one is a cold start
