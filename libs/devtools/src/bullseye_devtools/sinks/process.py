"""The sinks as a background process, started and stopped like a service (stack/local.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bullseye_devtools.sinks.sinks import campaign_settings
from bullseye_devtools.stack import process


@dataclass
class SinkProcess:
    folder: Path
    smtp_port: int = 0
    http_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def received(self) -> Path:
        """JSON lines of every message received (bullseye_devtools.sinks.Received)."""
        return self.folder / "received.jsonl"

    def start(self, *, timeout: float = 30.0) -> SinkProcess:
        self.folder.mkdir(parents=True, exist_ok=True)
        ready = self.folder / "sinks.ready"
        ready.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "bullseye_devtools.sinks", "--ready", str(ready), "--received",
                str(self.received), "--smtp-port", str(self.smtp_port), "--http-port", str(self.http_port)]  # fmt: skip
        self.proc = process.spawn(argv, log=self.folder / "sinks.log")
        ports = process.wait_for(lambda: _read(ready), proc=self.proc, timeout=timeout, what="the sinks' ports")
        self.smtp_port, self.http_port = ports["smtp_port"], ports["http_port"]
        return self

    def settings(self) -> dict[str, str]:
        """CAMPAIGN_* settings that send every channel here."""
        return campaign_settings(self.smtp_port, self.http_port)

    def stop(self) -> None:
        if self.proc is not None:
            process.stop(self.proc)
            self.proc = None


def _read(path: Path) -> dict[str, int] | None:
    return json.loads(path.read_text()) if path.exists() else None  # type: ignore[no-any-return]
