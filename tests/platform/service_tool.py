"""A service of no use but its command line, run as a process by test_service_commands.py:
    python -m tests.platform.service_tool [serve|migrate|config|echo] [arguments...]
Its own command `echo` prints what it was given (the config it loaded and its arguments) and
exits with 3, so a test sees both reach it untouched.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import asyncpg
from bullseye_platform.config import env
from bullseye_platform.service import Running, ServiceConfig, run_service

ECHO_EXIT = 3


@dataclass(frozen=True, kw_only=True)
class ToolConfig(ServiceConfig):
    prefix: ClassVar[str] = "TOOL"
    schema: str = env("SCHEMA", default="tool", help="schema of the tool's tables")
    stream: str = env("STREAM", default="TOOL", help="stream the tool writes")
    subject_prefix: str = env("SUBJECT_PREFIX", default="tool", help="subjects of TOOL")


async def echo(config: ToolConfig, arguments: Sequence[str]) -> int:
    print(json.dumps({"schema": config.schema, "arguments": list(arguments)}))
    return ECHO_EXIT


def build(config: ToolConfig) -> contextlib.AbstractAsyncContextManager[Running]:
    raise AssertionError("the tests run no server")


async def open_store(config: ToolConfig) -> asyncpg.Pool:
    raise AssertionError("the tests open no store")


def main() -> int:
    return run_service(
        None, name="tool", config_type=ToolConfig, prefix="TOOL", build=build, open_store=open_store,
        commands={"echo": echo},
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
