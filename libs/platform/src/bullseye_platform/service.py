"""The command line every service shares: `serve` (default), `migrate`, `config`.

One place decides how a service process starts: config is loaded (or the process exits
naming the bad variables), logs and telemetry are set up, and the service's own coroutine
runs. Services pass their config class and two coroutines; nothing else differs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from bullseye_platform.config import describe, load_or_exit
from bullseye_platform.logging import configure_logging
from bullseye_platform.telemetry import setup_telemetry

C = TypeVar("C")
Step = Callable[[C], Coroutine[Any, Any, None]]
GC_YOUNG_THRESHOLD = 10_000  # allocations between young collections (CPython's default: 700)


def run_service(
    argv: list[str] | None,
    *,
    name: str,
    config_type: type[C],
    prefix: str,
    serve: Step[C],
    migrate: Step[C],
    metrics_port: Callable[[C], int],
    log_level: Callable[[C], str],
) -> int:
    """Parse argv and run the chosen command; returns the process exit code."""
    program = f"bullseye-{name}"
    parser = argparse.ArgumentParser(prog=program, description=f"Bullseye {name} service")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate", "config"])
    args = parser.parse_args(argv)
    if args.command == "config":
        for variable, default, text in describe(config_type, prefix=prefix):
            print(f"{variable:34} {default:22} {text}")
        return 0
    config = load_or_exit(config_type, prefix=prefix, program=program)
    configure_logging(name, level=log_level(config))
    if args.command == "migrate":
        asyncio.run(migrate(config))
        return 0
    asyncio.run(_serve_with_telemetry(name, config, serve, metrics_port(config)))
    return 0


async def _serve_with_telemetry(name: str, config: C, serve: Step[C], metrics_port: int) -> None:
    telemetry = setup_telemetry(name, metrics_port=metrics_port)
    try:
        await serve(config)
    finally:
        telemetry.shutdown()


def settle_heap() -> None:
    """Move what start-up built (modules, descriptors, clients) out of the collector's reach.

    Under load a full collection walked those ~50k objects again, up to a 150 ms pause
    measured under `make bench`, which all calls in flight wait out (the latency p99).
    Young collections are made rarer too: requests create short-lived containers in
    bursts (100 events each), which die young if given the time.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
