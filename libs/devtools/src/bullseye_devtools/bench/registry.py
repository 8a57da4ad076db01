"""A small registry of benchmarks: each is a function that yields named results.

Later issues add benchmarks (identity, profile, ...) with `@benchmark(...)` in a new module
listed in `catalog.MODULES`; `--only PREFIX` selects by benchmark or result name, and a
selected benchmark pulls in the ones it `needs` (its baseline, a rate it derives from).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class Target:
    """What a result must reach: `on` the raw value or on its ratio to the baseline."""

    op: Literal[">=", "<="]
    value: float
    on: Literal["value", "ratio"] = "value"

    def met(self, value: float, ratio: float | None) -> bool | None:
        measured = value if self.on == "value" else ratio
        if measured is None:
            return None
        return measured >= self.value if self.op == ">=" else measured <= self.value

    def __str__(self) -> str:
        subject = "" if self.on == "value" else "ratio "
        return f"{subject}{self.op} {self.value:g}"


@dataclass(frozen=True)
class Result:
    """One figure; `baseline` names another result of the same run to divide by."""

    name: str
    value: float
    unit: str
    baseline: str | None = None
    target: Target | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def shown(self) -> str:
        """The value as printed: ratios (precision, recall) with four decimals, 0.9999 not 1.0."""
        return f"{self.value:.4f}" if self.unit == "ratio" else f"{self.value:,.1f}"


@dataclass
class Session:
    """What benchmarks share in one run: options, results so far, long-lived resources."""

    workdir: Path
    quick: bool = False
    results: dict[str, Result] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    _resources: dict[str, Any] = field(default_factory=dict)
    _exit: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def value(self, name: str) -> float:
        return self.results[name].value

    def resource(self, key: str, factory: Callable[[Session], contextlib.AbstractContextManager[Any]]) -> Any:
        """A resource (a running stack, say) entered once and closed when the session ends."""
        if key not in self._resources:
            self._resources[key] = self._exit.enter_context(factory(self))
        return self._resources[key]

    def step(self, message: str) -> None:
        """A progress line on stderr, so stdout stays the table."""
        print(f"[{time.monotonic() - self.started:6.1f}s] {message}", file=sys.stderr, flush=True)

    def close(self) -> None:
        self._exit.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


BenchFn = Callable[[Session], Iterable[Result]]


@dataclass(frozen=True)
class Benchmark:
    name: str
    run: BenchFn
    provides: tuple[str, ...]
    needs: tuple[str, ...]

    def matches(self, prefix: str) -> bool:
        return any(n.startswith(prefix) for n in (self.name, *self.provides))


REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str, *, provides: Iterable[str] = (), needs: Iterable[str] = ()) -> Callable[[BenchFn], BenchFn]:
    """Register `fn` as benchmark `name`; `provides` lists result names if not just `name`."""

    def register(fn: BenchFn) -> BenchFn:
        REGISTRY[name] = Benchmark(name, fn, tuple(provides) or (name,), tuple(needs))
        return fn

    return register


def plan(only: str | None = None) -> list[Benchmark]:
    """The benchmarks to run, in registration order, with everything they need."""
    chosen = {b.name for b in REGISTRY.values() if only is None or b.matches(only)}
    if not chosen:
        raise KeyError(f"no benchmark matches {only!r}; known: {', '.join(REGISTRY)}")
    pending = list(chosen)
    while pending:
        for need in REGISTRY[pending.pop()].needs:
            if need not in chosen:
                chosen.add(need)
                pending.append(need)
    return [b for b in REGISTRY.values() if b.name in chosen]


def run_all(session: Session, benchmarks: list[Benchmark]) -> Iterator[Result]:
    """Run in order; each result notes the machine's load when its benchmark began (noise)."""
    for bench in benchmarks:
        load = round(os.getloadavg()[0], 2)
        session.step(f"{bench.name}: start (load average {load})")
        for result in bench.run(session):
            result.detail.setdefault("load_1m_at_start", load)
            session.results[result.name] = result
            session.step(f"{result.name} = {result.shown()} {result.unit}")
            yield result
