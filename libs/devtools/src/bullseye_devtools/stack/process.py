"""A child process with a log file, started and stopped politely (SIGTERM, then SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TypeVar

T = TypeVar("T")
POLL = 0.05  # seconds between looks in `wait_for`


def spawn(
    argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None, user: str | None = None
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session (as `user` if given), stdout and stderr appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            # its own group too: in root's group it would not get "other" access to our folders
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )


def wait_for(look: Callable[[], T | None], *, proc: subprocess.Popen[bytes], timeout: float, what: str) -> T:
    """What `look` finds once it finds something (not None), while `proc` lives: how a starter
    learns that the process it started is ready, and where (a file the process writes).

    Raises:
        RuntimeError: `proc` exited first (its log says why).
        TimeoutError: nothing found within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with code {proc.returncode}")
        found = look()
        if found is not None:
            return found
        time.sleep(POLL)
    raise TimeoutError(f"{what}: not after {timeout:.0f}s")


def stop(process: subprocess.Popen[bytes], *, grace: float = 10.0) -> int:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL. Returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)


def stop_pid(pid: int, *, grace: float = 10.0) -> None:
    """Stop a process this Python did not start (from a pid file)."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def stop_children_on_sigterm() -> None:
    """Make SIGTERM end this tool like Ctrl-C does: the context managers that own the servers
    it started stop them, where a bare SIGTERM would leave them running without a parent."""
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
