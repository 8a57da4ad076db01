"""Every module that registers benchmarks; importing it fills the registry, in this order."""

from __future__ import annotations

import importlib

MODULES = (
    "bullseye_devtools.bench.natsbench",
    "bullseye_devtools.bench.auth",
    "bullseye_devtools.bench.ingest",
    "bullseye_devtools.bench.identity",
    "bullseye_devtools.bench.identity_realistic",
    "bullseye_devtools.bench.identity_throughput",
    "bullseye_devtools.bench.profile_read",
    "bullseye_devtools.bench.profile_write",
    "bullseye_devtools.bench.recommendation",
    "bullseye_devtools.bench.campaign",
)


def load() -> None:
    for module in MODULES:
        importlib.import_module(module)
