"""The contract and the code stay clean: buf lint on the protos, ruff and mypy on the code.

Run as tests so CI (which runs `make test`) enforces them, not only `make lint`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_protos_pass_buf_lint() -> None:
    image = ROOT / ".data" / "build" / "bullseye.binpb"
    assert image.exists(), "run `make protos` first (make test does)"
    done = run(str(BIN / "buf"), "lint", str(image), "--config", "protos/buf.yaml", "--exclude-path", "google")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]], ids=["ruff-check", "ruff-format"])
def test_code_passes_ruff(args: list[str]) -> None:
    done = run(str(BIN / "ruff"), *args, "libs", "services", "tests")
    assert done.returncode == 0, done.stdout + done.stderr


def test_code_passes_mypy_strict() -> None:
    packages = [
        "bullseye_platform",
        "bullseye_devtools",
        "bullseye_ingestion",
        "bullseye_identity",
        "bullseye_profile",
        "bullseye_campaign",
        "bullseye_recommendation",
    ]
    done = run(str(BIN / "mypy"), *(arg for package in packages for arg in ("-p", package)))
    assert done.returncode == 0, done.stdout + done.stderr
