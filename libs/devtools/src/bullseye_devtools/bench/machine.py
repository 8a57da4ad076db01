"""What the figures were measured on: they mean little without the machine beside them."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

from bullseye_devtools.stack.nats import nats_server_binary


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nats_version() -> str:
    try:
        done = subprocess.run([nats_server_binary(), "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip().removeprefix("nats-server: ") or "unknown"


def describe() -> dict[str, object]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nats_server": nats_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "load_average_at_start": [round(x, 2) for x in load],
    }
