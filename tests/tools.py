"""Running the project's command-line tools as subprocesses in tests."""

from __future__ import annotations

import subprocess

import pytest

STOP_GRACE = 20.0  # seconds a tool has to stop what it started after SIGTERM


def run_tool(argv: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion, its output captured as text.

    Past `timeout` the tool gets SIGTERM, not subprocess.run's SIGKILL: the tools stop the
    servers they started on SIGTERM, where a kill would leave them running for the rest of the
    suite. The test then fails with the end of the tool's stderr (its progress lines say where
    its time went).
    """
    tool = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = tool.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        tool.terminate()
        stdout, stderr = tool.communicate(timeout=STOP_GRACE)
        pytest.fail(f"{' '.join(argv[:3])} ran past {timeout:.0f} s; its last words:\n{stderr[-3000:]}")
    return subprocess.CompletedProcess(argv, tool.returncode, stdout, stderr)
