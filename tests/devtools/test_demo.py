"""`make demo` end to end, as a subprocess: its own stack, traffic, report, checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_end_to_end_resolves_every_event_and_reports_identity_quality(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "bullseye_devtools.demo", "--shoppers", "50", "--resend", "100", "--journeys", "40",
         "--data-dir", str(tmp_path / "demo"), "--report-dir", str(reports)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    markdown = (reports / "demo.md").read_text()
    assert "✅ **stream messages = accepted**" in markdown
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
    assert (reports / "demo-funnel.png").read_bytes()[:4] == b"\x89PNG"
    assert "p50 / p99" in done.stdout
    assert not list((tmp_path / "demo" / "nats").glob("*.pid")), "nothing left behind"
