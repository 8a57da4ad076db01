"""`make up` / `make status` / `make down`: a background stack that outlives the command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
from bullseye_devtools.stack import free_port
from bullseye_devtools.stack.background import parts, read_env
from bullseye_devtools.traffic import generate, send


def stack(*args: str, root: Path) -> subprocess.CompletedProcess[str]:
    """The CLI run from the folder above `root` with a relative --dir, as `make up` does."""
    argv = [sys.executable, "-m", "bullseye_devtools.stack", *args, "--dir", root.name]
    return subprocess.run(argv, capture_output=True, text=True, timeout=90, env={**os.environ}, cwd=root.parent)


async def test_up_leaves_a_working_stack_that_down_stops(tmp_path: Path) -> None:
    root = tmp_path / "local"
    ports = ["--nats-port", str(free_port()), "--postgres-port", str(free_port()), "--ingestion-port", str(free_port())]
    try:
        started = stack("up", *ports, root=root)
        assert started.returncode == 0, started.stderr[-2000:]
        env = read_env(root)
        assert {"NATS_URL", "DATABASE_URL", "INGESTION_ADDRESS", "BULLSEYE_API_KEY"} <= set(env)
        assert stack("status", root=root).stdout.count("running (pid") == 3
        stats = await send(list(generate(3, 77)), address=env["INGESTION_ADDRESS"], api_key=env["BULLSEYE_API_KEY"])
        assert stats.accepted > 0 and stats.rejected == 0
        pids = [part.pid for part in parts(root)]
    finally:
        assert stack("down", root=root).returncode == 0
    assert not any(part.alive for part in parts(root))
    assert not any(pid and psutil.pid_exists(pid) for pid in pids)
