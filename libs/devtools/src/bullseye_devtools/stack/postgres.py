"""A real PostgreSQL, from the binaries the pgserver package ships.

We drive initdb/postgres ourselves rather than `pgserver.get_server()` so the server runs
with fsync on and where we say. PostgreSQL cannot bind port 0 and tell which port it got,
and a port picked for it beforehand can be taken by anything else before it binds; so,
unless a TCP port is asked for (`make up`), it listens on a Unix socket only, in a folder
of its own, and clients connect with `?host=<folder>` in the DSN (asyncpg and libpq both
read it).
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from bullseye_platform.sockets import fits, stand_in

from bullseye_devtools.stack import process

SYSTEM_USER = "pgserver"  # the same unprivileged user the pgserver package uses
SOCKET_PORT = 5432  # names the socket file (.s.PGSQL.5432) when no TCP port is asked for
# postmaster.pid's 8th line: "ready" once the server accepts connections (what pg_ctl -w waits for)
PID_FILE_STATUS_LINE, READY = 7, "ready"


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


def _ready(pid_file: Path, pid: int) -> bool | None:
    """True once postmaster `pid` wrote "ready" in its postmaster.pid; None before, and while
    the file is a stale one naming another pid."""
    with contextlib.suppress(FileNotFoundError):
        lines = pid_file.read_text().splitlines()
        if len(lines) > PID_FILE_STATUS_LINE and lines[0].strip() == str(pid):
            return lines[PID_FILE_STATUS_LINE].strip() == READY or None
    return None


def socket_dir(data_dir: Path, port: int) -> Path:
    """`data_dir`/sockets, or when the socket's path would be too long there, a folder named
    after `data_dir` in the temp folder (as pgserver does)."""
    inside = data_dir / "sockets"
    return inside if fits(inside / f".s.PGSQL.{port}") else stand_in(data_dir, kind="pg")


@dataclass
class PostgresServer:
    """One PostgreSQL cluster in `data_dir`; `start()` returns once it accepts connections.

    `port` 0 (the default): no TCP port, only the Unix socket; else 127.0.0.1:`port` too.
    """

    data_dir: Path
    port: int = 0
    user: str = "bullseye"
    database: str = "bullseye"
    proc: subprocess.Popen[bytes] | None = None

    @property
    def sockets(self) -> Path:
        return socket_dir(self.data_dir.resolve(), self.port or SOCKET_PORT)

    def postmaster_pid(self) -> int:
        """The server's pid (the spawned process may be a wrapper that is gone); 0 if unknown."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
        return 0

    @property
    def dsn(self) -> str:
        if self.port:
            return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"
        host = urllib.parse.quote(str(self.sockets), safe="/")
        return f"postgresql://{self.user}@/{self.database}?host={host}&port={SOCKET_PORT}"

    def _init_cluster(self) -> None:
        pgdata = self.data_dir / "pgdata"
        if (pgdata / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = _run_as()
        if user:
            _hand_over(self.data_dir, user)
        done = subprocess.run(
            [_bin("initdb"), "-D", str(pgdata), "-U", self.user, "--auth=trust", "-E", "UTF8", "--no-locale"],
            capture_output=True,
            text=True,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed in {pgdata}: {done.stderr.strip()}")

    def start(self, *, timeout: float = 30.0) -> PostgresServer:
        """Start the server and create the database.

        Raises:
            RuntimeError: initdb failed, the server exited first, or the database could not be
                created (the message says why).
            TimeoutError: not accepting connections within `timeout` seconds.
        """
        # postgres changes into its data folder, so every path it is given must be absolute.
        self.data_dir = self.data_dir.resolve()
        self._init_cluster()
        sockets = self.sockets
        sockets.mkdir(exist_ok=True)
        user = _run_as()
        if user:
            _hand_over(sockets, user)
        self.proc = process.spawn(self._argv(sockets), log=self.data_dir / "postgres.log", user=user)
        pid_file, pid = self.data_dir / "pgdata" / "postmaster.pid", self.proc.pid
        what = f"postgres (see {self.data_dir}/postgres.log)"
        process.wait_for(lambda: _ready(pid_file, pid), proc=self.proc, timeout=timeout, what=what)
        self._create_database()
        return self

    def _argv(self, sockets: Path) -> list[str]:
        return [
            _bin("postgres"),
            "-D", str(self.data_dir / "pgdata"),
            "-p", str(self.port or SOCKET_PORT),
            "-h", "127.0.0.1" if self.port else "",  # listen_addresses: '' is no TCP at all
            "-k", str(sockets),
            "-c", "max_connections=200",
            "-c", "shared_buffers=128MB",
            # Young tables get planner statistics within seconds, not after a minute of
            # sequential scans (deploy/README.md, PostgreSQL).
            "-c", "autovacuum_naptime=5",
        ]  # fmt: skip

    def _create_database(self) -> None:
        """Once the server is ready: no retries (the socket is there in both modes)."""
        port = str(self.port or SOCKET_PORT)
        argv = [_bin("createdb"), "-h", str(self.sockets), "-p", port, "-U", self.user, self.database]
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0 and "already exists" not in done.stderr:
            raise RuntimeError(f"could not create database {self.database}: {done.stderr.strip()}")

    def stop(self) -> None:
        if self.proc is not None:
            process.stop(self.proc, grace=20)
            self.proc = None
        if not self.sockets.is_relative_to(self.data_dir.resolve()):  # a stand-in in the temp folder
            with contextlib.suppress(OSError):  # still in use (not ours to remove) or already gone
                self.sockets.rmdir()
