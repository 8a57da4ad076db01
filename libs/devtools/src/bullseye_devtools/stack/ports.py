"""Loopback ports: pick a free one, wait for one to listen."""

from __future__ import annotations

import random
import socket
import subprocess
import time
from pathlib import Path

EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
SPAN = 10_000  # ports just below the ephemeral range to pick from


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, below the kernel's ephemeral
    range. A port from bind(("", 0)) lies in that range, where any outgoing connection may
    take it as its source port before the server binds it (seen once in CI: nats-server
    stopped on "address already in use")."""
    low = _ephemeral_low()
    for port in random.sample(range(max(1024, low - SPAN), low), 50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # that span is full: any port
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def wait_for_port(
    port: int, *, timeout: float = 15.0, host: str = "127.0.0.1", proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until `host:port` accepts connections.

    Raises:
        RuntimeError: `proc` exited first (its log says why).
        TimeoutError: nothing listened within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process meant to listen on {host}:{port} exited with code {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")
