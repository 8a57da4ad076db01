"""The ready file: a process that bound port 0 tells whoever started it which ports it got.

Only the kernel can hand out a free port without a race: a port picked by the starter and
bound later by the process can be taken in between by anything else on the machine (seen
in `make test`: EADDRINUSE in a benchmark stack's metrics server). So the test stacks start
services on port 0 and need the answer back. With `BULLSEYE_READY_FILE` set, a serving unit
writes its ports there once every one of its processes serves; the file appears whole
(written aside, then renamed into place, which POSIX makes atomic), so its existence is
the readiness signal and a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

VARIABLE = "BULLSEYE_READY_FILE"


@dataclass(frozen=True)
class Ready:
    """Where a serving unit listens: its gRPC port (shared by all its processes) and the
    metrics port of each process that serves metrics, the first process's first."""

    grpc_port: int
    metrics_ports: tuple[int, ...] = ()

    def with_helpers(self, helpers: Iterable[Ready]) -> Ready:
        """The whole unit: this (the first process's) report followed by its helpers' metrics ports."""
        ports = [*self.metrics_ports, *(port for helper in helpers for port in helper.metrics_ports)]
        return Ready(grpc_port=self.grpc_port, metrics_ports=tuple(ports))


def helper_file(unit: Path, number: int) -> Path:
    """Where serving helper `number` reports, beside the unit's file."""
    return unit.with_name(f"{unit.name}.helper-{number}")


def write(path: Path, ready: Ready) -> None:
    """Write `ready` to `path` atomically: aside first, then renamed over it."""
    aside = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    aside.write_text(json.dumps({"grpc_port": ready.grpc_port, "metrics_ports": list(ready.metrics_ports)}))
    aside.replace(path)


def read(path: Path) -> Ready | None:
    """What `path` reports, or None while it does not exist yet."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return Ready(grpc_port=int(raw["grpc_port"]), metrics_ports=tuple(int(p) for p in raw["metrics_ports"]))
