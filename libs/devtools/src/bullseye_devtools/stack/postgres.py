"""A real PostgreSQL on loopback, from the binaries the pgserver package ships.

We drive initdb/postgres ourselves rather than `pgserver.get_server()` so the server
listens on a chosen TCP port (services and tests connect like they would in production)
and runs with fsync on.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bullseye_devtools.stack import process
from bullseye_devtools.stack.ports import free_port, wait_for_port

SYSTEM_USER = "pgserver"  # the same unprivileged user the pgserver package uses


def _run_as() -> str | None:
    """PostgreSQL refuses to run as root; as root we run it as an unprivileged user."""
    if os.geteuid() != 0:
        return None
    from pgserver.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


def _hand_over(path: Path, user: str) -> None:
    """Give `path` to `user` and let it traverse (not list) the folders above it."""
    import pwd

    entry = pwd.getpwnam(user)
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
    for item in [path, *path.rglob("*")]:
        os.chown(item, entry.pw_uid, entry.pw_gid)


def _bin(name: str) -> str:
    from pgserver._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


@dataclass
class PostgresServer:
    """One PostgreSQL cluster in `data_dir`; `start()` returns once it accepts queries."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    user: str = "bullseye"
    database: str = "bullseye"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _init_cluster(self) -> None:
        pgdata = self.data_dir / "pgdata"
        if (pgdata / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = _run_as()
        if user:
            _hand_over(self.data_dir, user)
        subprocess.run(
            [_bin("initdb"), "-D", str(pgdata), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-locale"],
            check=True,
            capture_output=True,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )

    def start(self) -> PostgresServer:
        # postgres changes into its data folder, so every path it is given must be absolute.
        self.data_dir = self.data_dir.resolve()
        self._init_cluster()
        sockets = self.data_dir / "sockets"
        sockets.mkdir(exist_ok=True)
        user = _run_as()
        if user:
            _hand_over(sockets, user)
        argv = [
            _bin("postgres"),
            "-D", str(self.data_dir / "pgdata"),
            "-p", str(self.port),
            "-h", "127.0.0.1",
            "-k", str(sockets),
            "-c", "max_connections=200",
            "-c", "shared_buffers=128MB",
            # Young tables get planner statistics within seconds, not after a minute of
            # sequential scans (deploy/README.md, PostgreSQL).
            "-c", "autovacuum_naptime=5",
        ]  # fmt: skip
        self.proc = process.spawn(argv, log=self.data_dir / "postgres.log", user=user)
        wait_for_port(self.port, timeout=30, proc=self.proc)
        self._create_database()
        return self

    def _create_database(self) -> None:
        for _ in range(50):
            done = subprocess.run(
                [_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.database],
                capture_output=True,
                text=True,
            )
            if done.returncode == 0 or "already exists" in done.stderr:
                return
            time.sleep(0.1)
        raise RuntimeError(f"could not create database {self.database}: {done.stderr.strip()}")

    def stop(self) -> None:
        if self.proc is not None:
            process.stop(self.proc, grace=20)
            self.proc = None
