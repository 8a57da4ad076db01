"""The whole local stack in one folder: NATS (strict), PostgreSQL and the ingestion service.

Shared by `make demo` (free ports, stopped at the end) and `make up` (fixed ports, left
running); later services join here so both pick them up.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bullseye_platform.eventlog import Durability

from bullseye_devtools.stack.nats import NatsServer
from bullseye_devtools.stack.ports import free_port
from bullseye_devtools.stack.postgres import PostgresServer
from bullseye_devtools.stack.services import ServiceProcess


@dataclass(frozen=True, kw_only=True)
class Ports:
    """0 means any free port."""

    nats: int = 0
    postgres: int = 0
    ingestion: int = 0


@dataclass
class LocalStack:
    root: Path
    ports: Ports = field(default_factory=Ports)
    nats: NatsServer | None = None
    postgres: PostgresServer | None = None
    ingestion: ServiceProcess | None = None
    # An existing PostgreSQL (DATABASE_URL) is used as is; without one, an embedded server starts.
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)

    def __post_init__(self) -> None:
        # Absolute: postgres chdirs into its data folder, so a relative socket folder breaks it.
        self.root = self.root.resolve()

    @property
    def env(self) -> dict[str, str]:
        """What a service, or the key CLI, needs to reach the stack."""
        dsn = self.database_url or (self.postgres.dsn if self.postgres else None)
        assert self.nats is not None and dsn is not None, "start() first"
        return {"NATS_URL": self.nats.url, "DATABASE_URL": dsn}

    @property
    def ingestion_address(self) -> str:
        assert self.ingestion is not None, "start() first"
        return self.ingestion.address

    def start(self, *, on_step: Callable[[str], None] = lambda _: None) -> LocalStack:
        """Start everything, in dependency order; on failure stop what was started.

        Raises:
            TimeoutError, RuntimeError: a part did not come up (its log is in `root`).
        """
        try:
            on_step("nats-server (JetStream, fsync always)")
            self.nats = NatsServer(self.root / "nats", Durability.STRICT, port=self.ports.nats or free_port()).start()
            if not self.database_url:
                on_step("PostgreSQL (embedded)")
                self.postgres = PostgresServer(self.root / "postgres", port=self.ports.postgres or free_port()).start()
            on_step("ingestion")
            port = self.ports.ingestion or free_port()
            self.ingestion = ServiceProcess("ingestion", "bullseye_ingestion", self.env, self.root / "logs", port=port)
            self.ingestion.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Services first (they drain into NATS and PostgreSQL), then both servers at once."""
        if self.ingestion is not None:
            self.ingestion.stop()
        servers = [part for part in (self.nats, self.postgres) if part is not None]
        with ThreadPoolExecutor() as pool:
            list(pool.map(lambda server: server.stop(), servers))
        self.ingestion = self.nats = self.postgres = None

    def pids(self) -> dict[str, int]:
        parts = {"nats": self.nats, "postgres": self.postgres, "ingestion": self.ingestion}
        return {name: part.proc.pid for name, part in parts.items() if part is not None and part.proc is not None}


def create_api_key(env: dict[str, str], *, source: str, rate: float = 1000.0, burst: float = 2000.0) -> str:
    """A new ingestion API key, made with the real key tool (`bullseye_ingestion.cli`).

    Raises:
        RuntimeError: the tool failed; its message is included.
    """
    argv = ["create", "--source", source, "--rate", f"{rate:g}", "--burst", f"{burst:g}"]
    done = subprocess.run(
        [sys.executable, "-m", "bullseye_ingestion.cli", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"could not create an API key: {done.stderr.strip()}")
    return done.stdout.strip()
