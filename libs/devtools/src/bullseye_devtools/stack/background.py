"""A stack left running after its command exits: pid files, an env file, liveness checks.

The launchers start every process in its own session, so they outlive `make up`; what
`down` and `status` know about them comes only from the files written here.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil

from bullseye_devtools.stack import nats, process, staging

# Stop order (campaign before recommendation, which it calls; recommendation, ingestion and
# profile before identity, their key, contact and identifier source; services before the
# servers they drain into) and the word their command line holds.
PARTS = (
    ("campaign", "bullseye_campaign"),
    ("sinks", "bullseye_devtools.sinks"),
    ("recommendation", "bullseye_recommendation"),
    ("ingestion", "bullseye_ingestion"),
    ("profile", "bullseye_profile"),
    ("identity", "bullseye_identity"),
    ("nats", "nats-server"),
    ("postgres", "postgres"),
)
SERVERS = {"nats", "postgres", "sinks"}  # parts without gRPC health


@dataclass(frozen=True)
class Part:
    name: str
    pid: int | None
    alive: bool


def run_dir(root: Path) -> Path:
    return root / "run"


def env_file(root: Path) -> Path:
    return root / "env"


def write_pids(root: Path, pids: dict[str, int]) -> None:
    run_dir(root).mkdir(parents=True, exist_ok=True)
    for name, pid in pids.items():
        (run_dir(root) / f"{name}.pid").write_text(f"{pid}\n")


def write_env(root: Path, values: dict[str, str]) -> Path:
    """KEY=value lines: `set -a; . .data/local/env` loads them into a shell."""
    path = env_file(root)
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    path.chmod(0o600)  # it holds an API key and the stack's secrets
    return path


def read_env(root: Path) -> dict[str, str]:
    path = env_file(root)
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def _ours(pid: int, marker: str) -> bool:
    """The pid is alive and is still our process, not a stranger that reused the number."""
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and marker in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def parts(root: Path) -> list[Part]:
    found = []
    for name, marker in PARTS:
        path = run_dir(root) / f"{name}.pid"
        pid = int(path.read_text().strip()) if path.exists() else None
        found.append(Part(name, pid, pid is not None and _ours(pid, marker)))
    return found


def _stop(part: Part) -> None:
    if part.pid is not None:
        print(f"stopping {part.name} (pid {part.pid})", flush=True)
        process.stop_pid(part.pid, grace=20)


def stop_all(root: Path) -> int:
    """Stop every live part, services one by one in PARTS order, then the servers together;
    returns how many."""
    found = parts(root)
    live = [part for part in found if part.alive]
    for part in live:
        if part.name not in SERVERS:
            _stop(part)
    with ThreadPoolExecutor() as pool:
        list(pool.map(_stop, [p for p in live if p.name in SERVERS]))
    for part in found:
        (run_dir(root) / f"{part.name}.pid").unlink(missing_ok=True)
    # nats-server was stopped by pid, not through NatsServer.stop: free its tmpfs staging too.
    staging.release(staging.memory_folder(nats.store_dir(root / "nats")))
    return len(live)
