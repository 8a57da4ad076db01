"""The whole local stack in one folder: NATS (strict), PostgreSQL, identity, profile and ingestion.

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

from bullseye_devtools.stack import secrets as stack_secrets
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
    identity: int = 0
    identity_metrics: int = 0
    profile: int = 0


@dataclass
class LocalStack:
    root: Path
    ports: Ports = field(default_factory=Ports)
    nats: NatsServer | None = None
    postgres: PostgresServer | None = None
    ingestion: ServiceProcess | None = None
    identity: ServiceProcess | None = None
    profile: ServiceProcess | None = None
    # Master and hash keys, service token: pass a previous run's to keep reading its sealed data.
    secrets: dict[str, str] = field(default_factory=stack_secrets.generate)
    # An existing PostgreSQL (DATABASE_URL) is used as is; without one, an embedded server starts.
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)
    # `make up` and `make demo` ask for profile; benchmarks leave it out (folding RESOLVED
    # beside what they measure would share its CPU) or start their own.
    with_profile: bool = False
    # Extra PROFILE_* settings, e.g. the demo pins profile's clock to its traffic's end.
    profile_settings: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Absolute: postgres chdirs into its data folder, so a relative socket folder breaks it.
        self.root = self.root.resolve()
        self._identity_metrics = self.ports.identity_metrics or free_port()

    @property
    def env(self) -> dict[str, str]:
        """What a service, or the key CLI, needs to reach the stack (its secrets included)."""
        dsn = self.database_url or (self.postgres.dsn if self.postgres else None)
        assert self.nats is not None and dsn is not None, "start() first"
        env = {"NATS_URL": self.nats.url, "DATABASE_URL": dsn, **self.secrets}
        if self.identity is not None:
            env["INGESTION_IDENTITY_ADDRESS"] = env["PROFILE_IDENTITY_ADDRESS"] = self.identity.address
        return env

    @property
    def ingestion_address(self) -> str:
        assert self.ingestion is not None, "start() first"
        return self.ingestion.address

    @property
    def identity_address(self) -> str:
        assert self.identity is not None, "start() first"
        return self.identity.address

    @property
    def profile_address(self) -> str:
        assert self.profile is not None, "start() first"
        return self.profile.address

    @property
    def identity_metrics_url(self) -> str:
        """Identity's Prometheus endpoint: merges, conflicts and blocked values by rule."""
        return f"http://127.0.0.1:{self._identity_metrics}/metrics"

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
            # Identity first: ingestion asks it for the data keys that seal personal data.
            on_step("identity")
            self.identity = self.identity_process(port=self.ports.identity or free_port()).start()
            if self.with_profile:
                # After identity: GetProfile by identifier asks identity who it is.
                on_step("profile")
                self.profile = self._service("profile", "bullseye_profile", self.ports.profile, **self.profile_settings)
                self.profile.start()
            on_step("ingestion")
            self.ingestion = self._service("ingestion", "bullseye_ingestion", self.ports.ingestion).start()
        except BaseException:
            self.stop()
            raise
        return self

    def _service(self, name: str, module: str, port: int, **extra: str) -> ServiceProcess:
        return ServiceProcess(name, module, {**self.env, **extra}, self.root / "logs", port=port or free_port())

    def identity_process(self, *, port: int, **extra: str) -> ServiceProcess:
        """An identity process on `port` with this stack's settings and `extra` ones (not started)."""
        env = {**self.env, "IDENTITY_METRICS_PORT": str(self._identity_metrics), **extra}
        return ServiceProcess("identity", "bullseye_identity", env, self.root / "logs", port=port)

    def stop(self) -> None:
        """Ingestion, profile, then identity (the others' key and identifier source), then
        both servers at once."""
        for service in (self.ingestion, self.profile, self.identity):
            if service is not None:
                service.stop()
        servers = [part for part in (self.nats, self.postgres) if part is not None]
        with ThreadPoolExecutor() as pool:
            list(pool.map(lambda server: server.stop(), servers))
        self.ingestion = self.profile = self.identity = self.nats = self.postgres = None

    def pids(self) -> dict[str, int]:
        parts = {
            "nats": self.nats, "postgres": self.postgres, "identity": self.identity, "profile": self.profile,
            "ingestion": self.ingestion,
        }  # fmt: skip
        return {name: part.proc.pid for name, part in parts.items() if part is not None and part.proc is not None}


def create_api_key(
    env: dict[str, str], *, source: str, rate: float = 1000.0, burst: float = 2000.0, backfill: bool = False
) -> str:
    """A new ingestion API key, made with the real key tool (`python -m bullseye_ingestion keys`);
    `backfill` grants the scope to send events older than the live window.

    Raises:
        RuntimeError: the tool failed; its message is included.
    """
    argv = ["create", "--source", source, "--rate", f"{rate:g}", "--burst", f"{burst:g}"]
    argv += ["--backfill"] if backfill else []
    done = subprocess.run(
        [sys.executable, "-m", "bullseye_ingestion", "keys", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"could not create an API key: {done.stderr.strip()}")
    return done.stdout.strip()
