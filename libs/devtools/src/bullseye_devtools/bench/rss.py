"""Peak resident memory of another process: sampled every 100 ms, and the kernel's VmHWM."""

from __future__ import annotations

import threading
from pathlib import Path

import psutil


def vm_hwm(pid: int) -> int:
    """The kernel's high-water mark of the process's RSS in bytes (0 where /proc lacks it)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler:
    """A daemon thread that keeps the highest RSS seen; VmHWM catches spikes between samples.

    With `tree`, a sample is the process's RSS plus its children's (a service with serving
    helpers, see bullseye_platform.serving), and VmHWM is not used (it is per process).
    """

    def __init__(self, pid: int, *, interval: float = 0.1, tree: bool = False) -> None:
        self.pid, self.samples, self.tree = pid, 0, tree
        self._interval = interval
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            process = psutil.Process(self.pid)
            while not self._stop.wait(self._interval):
                members = [process, *process.children()] if self.tree else [process]
                self._peak = max(self._peak, sum(p.memory_info().rss for p in members))
                self.samples += 1
        except psutil.Error:
            return  # the process ended

    def peak_bytes(self) -> int:
        return self._peak if self.tree else max(self._peak, vm_hwm(self.pid))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
