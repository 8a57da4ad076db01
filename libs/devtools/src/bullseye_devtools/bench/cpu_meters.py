"""CPU meters for the benchmarks that run a whole stack (profile's write path, campaign,
recommendation): how much of the machine's two cores each process (and its children) spent
over a run, so a figure says which hop paid for it."""

from __future__ import annotations

import contextlib
import time

import psutil

from bullseye_devtools.stack.local import LocalStack


class CpuMeters:
    """CPU time of each part of the stack (a process and its children) over a run, per event:
    which hop spends the machine's two cores."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._parts: dict[str, psutil.Process] = {}
        for name, pid in pids.items():
            with contextlib.suppress(psutil.Error, ValueError):  # gone (a wrapper that exec'd), or 0
                self._parts[name] = psutil.Process(pid)
        self._start = {name: _tree_cpu(p) for name, p in self._parts.items()}
        self._client = time.process_time()

    def seconds(self) -> dict[str, float]:
        """CPU seconds each part spent since the meters started."""
        return {name: _tree_cpu(p) - self._start[name] for name, p in self._parts.items()}

    def per_event_ms(self, events: int) -> dict[str, float]:
        spent = {**self.seconds(), "bench_client": time.process_time() - self._client}
        return {name: round(seconds / max(events, 1) * 1000, 3) for name, seconds in spent.items()}


def postmaster(local: LocalStack) -> int:
    """The PostgreSQL server's pid; 0 if unknown."""
    assert local.postgres is not None
    return local.postgres.postmaster_pid()


def _tree_cpu(process: psutil.Process) -> float:
    """CPU time of `process` and its descendants, the exited ones included: a child that ends
    (a PostgreSQL backend whose connection closed) moves into its parent's children times
    when reaped, so the sum never goes back."""
    total = 0.0
    with contextlib.suppress(psutil.Error):
        for part in (process, *process.children(recursive=True)):
            with contextlib.suppress(psutil.Error):
                times = part.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
    return total
