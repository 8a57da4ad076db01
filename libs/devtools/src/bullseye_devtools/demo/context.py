"""What the demo's steps share: options, the running stack, the traffic, and the report.

A step reads what earlier steps left here and adds its own results as report sections and
checks; a new service joins the demo by adding steps, not by editing the others.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bullseye.events.v1 import event_pb2 as ev

from bullseye_devtools.demo.campaigns import CampaignRun
from bullseye_devtools.demo.profiles import ProfileFigures
from bullseye_devtools.quality.run import QualityRun
from bullseye_devtools.stack.local import LocalStack
from bullseye_devtools.traffic import GroundTruth, SendStats


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    shoppers: int = 2000
    seed: int = 42
    data_dir: Path = Path(".data/demo")
    report_dir: Path = Path("reports")
    resend: int = 500
    journeys: int = 1000  # persons whose cross-device journeys measure identity's quality
    realistic: int = 500  # persons of the realistic journeys (issue 17's situations); 0: none
    # The traffic spans the `days` before the demo's start; profile's clock is pinned there
    # (`DemoContext.now`), so windows, RFM recency and lifecycle stages have people in them.
    days: float = 90.0
    keep_running: bool = False


@dataclass(frozen=True)
class Section:
    """A titled block of label/value rows, or a table when it has a `header` (rows of as many
    cells); `note` is a sentence under it."""

    title: str
    rows: Sequence[tuple[str, ...]]
    note: str = ""
    header: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    """A claim the demo proves, e.g. 'stream messages = accepted'."""

    claim: str
    ok: bool
    detail: str


@dataclass
class DemoContext:
    options: DemoOptions
    # The end of the generated traffic and profile's pinned clock: windows and RFM measure
    # from it, and an Estimate never drifts from the memberships while the demo runs.
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    cleanup: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    stack: LocalStack | None = None
    api_key: str = ""
    events: list[ev.Event] = field(default_factory=list)
    truth: GroundTruth | None = None
    sent: SendStats | None = None
    resent: SendStats | None = None
    stream_messages: int | None = None
    identity: QualityRun | None = None
    realistic: QualityRun | None = None
    profiles: ProfileFigures | None = None
    campaigns: CampaignRun | None = None
    sections: list[Section] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def running(self) -> LocalStack:
        if self.stack is None:
            raise RuntimeError("the stack is not started; the start step must run first")
        return self.stack

    def add_section(self, title: str, rows: list[tuple[str, str]], note: str = "") -> None:
        self.sections.append(Section(title, rows, note))

    def check(self, claim: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(claim, ok, detail))

    @property
    def passed(self) -> bool:
        return all(check.ok for check in self.checks)
