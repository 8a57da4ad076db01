"""The whole local stack in one folder: NATS (strict), PostgreSQL, identity, profile, ingestion,
recommendation and campaign (with its channel sinks).

Shared by `make demo` (ports the processes bind themselves, stopped at the end) and `make up`
(fixed ports, left running); later services join here so both pick them up. Each service
also listens on a Unix socket under `<root>/sockets`, a path known before anything starts:
identity records corrections through ingestion, which asks identity for data keys, so one
of them must know the other's address before the other has bound its port.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bullseye_platform.auth import TokenMinter
from bullseye_platform.auth.operator import operator_credentials
from bullseye_platform.eventlog import Durability

from bullseye_devtools.sinks.process import SinkProcess
from bullseye_devtools.stack import secrets as stack_secrets
from bullseye_devtools.stack.nats import NatsServer
from bullseye_devtools.stack.postgres import PostgresServer
from bullseye_devtools.stack.services import ServiceProcess, service_socket


@dataclass(frozen=True, kw_only=True)
class Ports:
    """0 means any free port, bound by the process itself (for PostgreSQL: no TCP port, a Unix
    socket only)."""

    nats: int = 0
    postgres: int = 0
    ingestion: int = 0
    identity: int = 0
    identity_metrics: int = 0
    profile: int = 0
    campaign: int = 0
    smtp: int = 0  # the channel sinks' SMTP and HTTP ports
    http: int = 0
    recommendation: int = 0


@dataclass
class LocalStack:
    root: Path
    ports: Ports = field(default_factory=Ports)
    nats: NatsServer | None = None
    postgres: PostgresServer | None = None
    ingestion: ServiceProcess | None = None
    identity: ServiceProcess | None = None
    profile: ServiceProcess | None = None
    campaign: ServiceProcess | None = None
    sinks: SinkProcess | None = None
    recommendation: ServiceProcess | None = None
    # Master and hash keys, signing and trusted keys: pass a previous run's to keep reading its
    # sealed data (and its operator key working).
    secrets: dict[str, str] = field(default_factory=stack_secrets.generate)
    # An existing PostgreSQL (DATABASE_URL) is used as is; without one, an embedded server starts.
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)
    # `make up` and `make demo` ask for profile; benchmarks leave it out (folding RESOLVED
    # beside what they measure would share its CPU) or start their own.
    with_profile: bool = False
    # Extra PROFILE_* settings, e.g. the demo pins profile's clock to its traffic's end.
    profile_settings: dict[str, str] = field(default_factory=dict)
    # Campaign (with profile) and the channel sinks it delivers to; extra CAMPAIGN_* settings.
    with_campaign: bool = False
    campaign_settings: dict[str, str] = field(default_factory=dict)
    # `make up` and `make demo` ask for recommendation too (it folds RESOLVED and CATALOG);
    # its models are kept in <root>/models, its spool in <root>/spool.
    with_recommendation: bool = False

    def __post_init__(self) -> None:
        # Absolute: postgres chdirs into its data folder, so a relative socket folder breaks it.
        self.root = self.root.resolve()

    @property
    def env(self) -> dict[str, str]:
        """What a local caller or the key CLI needs to reach the stack (its secrets included;
        a service gets `service_env`)."""
        dsn = self.database_url or (self.postgres.dsn if self.postgres else None)
        assert self.nats is not None and dsn is not None, "start() first"
        env = {"NATS_URL": self.nats.url, "DATABASE_URL": dsn, **self.secrets}
        if self.identity is not None:
            for name in ("INGESTION", "PROFILE", "RECOMMENDATION"):
                env[f"{name}_IDENTITY_ADDRESS"] = self.identity.address
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
    def campaign_address(self) -> str:
        assert self.campaign is not None, "start() first"
        return self.campaign.address

    @property
    def recommendation_address(self) -> str:
        assert self.recommendation is not None, "start() first"
        return self.recommendation.address

    @property
    def identity_metrics_url(self) -> str:
        """Identity's Prometheus endpoint: merges, conflicts and blocked values by rule."""
        assert self.identity is not None, "start() first"
        return f"http://127.0.0.1:{self.identity.metrics_port}/metrics"

    def start(self, *, on_step: Callable[[str], None] = lambda _: None) -> LocalStack:
        """Start everything, in dependency order; on failure stop what was started.

        Raises:
            TimeoutError, RuntimeError: a part did not come up (its log is in `root`).
        """
        try:
            on_step("nats-server (JetStream, fsync always)")
            self.nats = NatsServer(self.root / "nats", Durability.STRICT, port=self.ports.nats).start()
            if not self.database_url:
                on_step("PostgreSQL (embedded)")
                self.postgres = PostgresServer(self.root / "postgres", port=self.ports.postgres).start()
            # Identity first: ingestion asks it for the data keys that seal personal data (and
            # identity tolerates ingestion coming up after it: only Merge and Split need it, at
            # the socket it will listen on).
            on_step("identity")
            self.identity = self.identity_process(port=self.ports.identity).start()
            if self.with_profile:
                # After identity: GetProfile by identifier asks identity who it is.
                on_step("profile")
                self.profile = self._service("profile", "bullseye_profile", self.ports.profile, **self.profile_settings)
                self.profile.start()
            on_step("ingestion")
            self.ingestion = self._service("ingestion", "bullseye_ingestion", self.ports.ingestion).start()
            if self.with_recommendation:
                # After ingestion: it reads the CATALOG stream ingestion creates (and waits for it otherwise).
                on_step("recommendation")
                storage = {"RECOMMENDATION_MODEL_DIR": str(self.root / "models"),
                           "RECOMMENDATION_SPOOL_DIR": str(self.root / "spool")}  # fmt: skip
                self.recommendation = self._service(
                    "recommendation", "bullseye_recommendation", self.ports.recommendation, **storage
                ).start()
            if self.with_profile and self.with_campaign:
                # After recommendation: templates that show items call it.
                on_step("campaign (and its channel sinks)")
                self._start_campaign()
        except BaseException:
            self.stop()
            raise
        return self

    def sinks_env(self) -> dict[str, str]:
        """Where the channel sinks listen and write what they receive (for the env file)."""
        assert self.sinks is not None, "start() with campaign first"
        return {"SINKS_SMTP": f"127.0.0.1:{self.sinks.smtp_port}", "SINKS_HTTP": f"127.0.0.1:{self.sinks.http_port}",
                "SINKS_RECEIVED": str(self.sinks.received)}  # fmt: skip

    def _start_campaign(self) -> None:
        """After identity and profile (contacts, segments); its channels go to the local sinks."""
        assert self.identity is not None and self.profile is not None
        self.sinks = SinkProcess(self.root / "sinks", smtp_port=self.ports.smtp, http_port=self.ports.http).start()
        settings = {
            "CAMPAIGN_IDENTITY_ADDRESS": self.identity.address, "CAMPAIGN_PROFILE_ADDRESS": self.profile.address,
            **self.sinks.settings(), **self.campaign_settings,
        }  # fmt: skip
        if self.recommendation is not None:
            settings["CAMPAIGN_RECOMMENDATION_ADDRESS"] = self.recommendation.address
        self.campaign = self._service("campaign", "bullseye_campaign", self.ports.campaign, **settings).start()

    def service_env(self, service: str) -> dict[str, str]:
        """What `service` runs with: the stack's settings, and of the private keys only its own."""
        return stack_secrets.for_service(self.env, service)

    def operator(self) -> TokenMinter:
        """The operator's tokens, for the tools that call the stack's services (demo, benchmarks)."""
        return operator_credentials(self.secrets)

    def _service(self, name: str, module: str, port: int, **extra: str) -> ServiceProcess:
        env = {**self.service_env(name), **extra}
        return ServiceProcess(name, module, env, self.root / "logs", port=port, socket=self.socket_of(name))

    def socket_of(self, service: str) -> Path:
        """Where `service` also listens, a Unix socket known before anything starts: services
        that call each other both ways (identity and ingestion) are wired through these."""
        return service_socket(self.root / "sockets", service)

    def identity_process(self, *, port: int, **extra: str) -> ServiceProcess:
        """An identity process on `port` (0: any) with this stack's settings and `extra` ones (not started)."""
        settings = {
            "IDENTITY_METRICS_PORT": str(self.ports.identity_metrics),
            "IDENTITY_INGESTION_ADDRESS": f"unix:{self.socket_of('ingestion')}",
            **extra,
        }
        return self._service("identity", "bullseye_identity", port, **settings)

    def stop(self) -> None:
        """Campaign (and its sinks), recommendation, ingestion, profile, then identity (the others'
        key and identifier source), then both servers at once."""
        for service in (self.campaign, self.sinks, self.recommendation, self.ingestion, self.profile, self.identity):
            if service is not None:
                service.stop()
        servers = [part for part in (self.nats, self.postgres) if part is not None]
        with ThreadPoolExecutor() as pool:
            list(pool.map(lambda server: server.stop(), servers))
        self.recommendation = self.ingestion = self.campaign = self.profile = self.identity = None
        self.nats = self.postgres = self.sinks = None

    def pids(self) -> dict[str, int]:
        parts = {
            "nats": self.nats, "postgres": self.postgres, "identity": self.identity, "profile": self.profile,
            "ingestion": self.ingestion, "campaign": self.campaign, "sinks": self.sinks,
            "recommendation": self.recommendation,
        }  # fmt: skip
        return {name: part.proc.pid for name, part in parts.items() if part is not None and part.proc is not None}


def create_api_key(
    env: dict[str, str], *, source: str, rate: float = 1000.0, burst: float = 2000.0, backfill: bool = False,
    catalog: bool = False,
) -> str:  # fmt: skip
    """A new ingestion API key, made with the real key tool (`python -m bullseye_ingestion keys`);
    `backfill` grants the scope to send events older than the live window, `catalog` makes
    a catalog feed's key (PublishCatalog only).

    Raises:
        RuntimeError: the tool failed; its message is included.
    """
    argv = ["create", "--source", source, "--rate", f"{rate:g}", "--burst", f"{burst:g}"]
    argv += ["--backfill"] if backfill else []
    argv += ["--catalog"] if catalog else []
    done = subprocess.run(
        [sys.executable, "-m", "bullseye_ingestion", "keys", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"could not create an API key: {done.stderr.strip()}")
    return done.stdout.strip()
