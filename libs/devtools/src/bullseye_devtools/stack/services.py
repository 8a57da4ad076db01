"""Bullseye services as real OS processes: started, reported ready, stopped or killed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
from bullseye_platform import ready, sockets
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bullseye_devtools.stack import process

COMPLAINT = re.compile(r'"level": "(warning|error|critical)"')  # a line of the services' JSON logs


def wait_until_serving(address: str, *, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Block until the standard gRPC health check at `address` answers SERVING.

    Raises:
        RuntimeError: the process exited first.
        TimeoutError: not serving within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"service at {address} exited with code {proc.returncode}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise TimeoutError(f"service at {address} not serving after {timeout:.0f}s")


def service_socket(folder: Path, name: str) -> Path:
    """Where service `name` of a stack in `folder` listens on a Unix socket: `folder`/`name`.sock,
    or a stand-in in the temp folder when that path is too long for a socket (the same one each
    time, so a restarted service is where its callers look)."""
    return sockets.socket_path(folder / f"{name}.sock", kind="grpc")


@dataclass
class ServiceProcess:
    """One service (`python -m <module> serve`) on its own gRPC port.

    With `port` 0 the service binds a port the kernel picks and reports it, with its metrics
    ports, in a ready file (bullseye_platform.ready): nothing picks a port that something else
    could bind first. A restart binds the port the previous run got, so that clients (another
    service's channel) keep their address, as they would with a pod restarted behind its.

    With a `socket` (see `service_socket`) it serves on that Unix socket path too: an address
    known before it starts, for services that call each other both ways (identity records
    corrections through ingestion, which asks identity for data keys), whichever starts first.
    """

    name: str
    module: str
    env: Mapping[str, str]
    log_dir: Path
    port: int = 0
    socket: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    reported: ready.Ready | None = None

    @property
    def address(self) -> str:
        assert self.port, "start() first: the port is the one the service reports"
        return f"127.0.0.1:{self.port}"

    @property
    def socket_address(self) -> str:
        """`unix:<socket>`, known before the service starts (for another service's settings)."""
        assert self.socket is not None, f"{self.name} was given no socket"
        return f"unix:{self.socket}"

    @property
    def metrics_port(self) -> int:
        """The (first) process's Prometheus port; set `<NAME>_METRICS_PORT` (0: any) to have one."""
        assert self.reported is not None and self.reported.metrics_ports, f"{self.name} serves no metrics"
        return self.reported.metrics_ports[0]

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def complaints(self, last: int = 20) -> list[str]:
        """The last warnings and errors the process logged: what a failed test reports."""
        if not self.log_path.exists():
            return []
        return [line for line in self.log_path.read_text().splitlines() if COMPLAINT.search(line)][-last:]

    @property
    def prefix(self) -> str:
        """The service's settings prefix, from its module (`bullseye_recommendation` ->
        `RECOMMENDATION`): a process's name may say more (`recommendation-projection`)."""
        return self.module.removeprefix("bullseye_").upper()

    def start(self, *, timeout: float = 30.0) -> ServiceProcess:
        report = self.log_dir / f"{self.name}-{uuid.uuid4().hex[:12]}.ready"
        own = {f"{self.prefix}_GRPC_PORT": str(self.port), ready.VARIABLE: str(report)}
        if self.socket is not None:
            self.socket.parent.mkdir(parents=True, exist_ok=True)
            own[f"{self.prefix}_GRPC_SOCKET"] = str(self.socket)
        env = {**os.environ, **self.env, **own}
        self.proc = process.spawn([sys.executable, "-m", self.module, "serve"], log=self.log_path, env=env)
        what = f"{self.name} reporting ready to {report}"
        self.reported = process.wait_for(lambda: ready.read(report), proc=self.proc, timeout=timeout, what=what)
        report.unlink()
        self.port = self.reported.grpc_port
        return self

    def stop(self, *, grace: float = 15.0) -> int:
        """SIGTERM (graceful drain), SIGKILL after `grace`; returns the exit code."""
        if self.proc is None:
            return 0
        code = process.stop(self.proc, grace=grace)
        self.proc = None
        return code

    def kill(self) -> None:
        """kill -9: no drain, no cleanup, like a node that loses power."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None
