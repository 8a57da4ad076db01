"""`make demo`: the local stack, realistic traffic through ingestion, and a report.

New services join by appending steps to `bullseye_devtools.demo.steps.STEPS`; each step
gets the shared `DemoContext` and adds its own report sections and checks.
"""

from bullseye_devtools.demo.cli import main

__all__ = ["main"]
