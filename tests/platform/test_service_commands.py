"""The command line every service shares (`run_service`): its own commands get their arguments
untouched (their `--help` included) and decide the exit code; the shared ones take none but
`config --json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests import credentials
from tests.platform.service_tool import ECHO_EXIT

ROOT = Path(__file__).resolve().parents[2]
SIGNING = credentials.keys()["PROFILE_SIGNING_KEY"]
ENVIRONMENT = {
    "NATS_URL": "nats://127.0.0.1:4222", "DATABASE_URL": "postgresql://u@h/db", "TOOL_SIGNING_KEY": SIGNING,
    "BULLSEYE_TRUSTED_KEYS": credentials.keys()["BULLSEYE_TRUSTED_KEYS"],
}  # fmt: skip


def tool(*argv: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.platform.service_tool", *argv], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, **ENVIRONMENT, **environment}, timeout=60,
    )  # fmt: skip


def test_an_own_command_gets_its_arguments_untouched_and_the_loaded_config() -> None:
    done = tool("echo", "--help", "create", "--source", "web", TOOL_SCHEMA="elsewhere")
    assert done.returncode == ECHO_EXIT, done.stderr
    assert json.loads(done.stdout) == {"schema": "elsewhere", "arguments": ["--help", "create", "--source", "web"]}


def test_help_lists_the_own_commands_beside_the_shared_ones() -> None:
    done = tool("--help")
    assert done.returncode == 0
    assert "{serve,migrate,config,echo}" in done.stdout


def test_a_shared_command_refuses_arguments() -> None:
    done = tool("migrate", "now")
    assert done.returncode == 2 and "unrecognized arguments: now" in done.stderr


def test_config_describes_the_variables_as_text_or_as_json_schema() -> None:
    assert "TOOL_SCHEMA" in tool("config").stdout
    assert json.loads(tool("config", "--json").stdout)["TOOL_SCHEMA"]["description"].startswith("schema of")


def test_an_own_command_needs_the_config_like_serve() -> None:
    done = tool("echo", TOOL_SIGNING_KEY="")
    assert done.returncode != 0 and "TOOL_SIGNING_KEY" in done.stderr
