"""`make bench` / `python -m bullseye_devtools.bench`: run the benchmarks, print and save figures.

Figures from this shared, noisy machine mean most as ratios to a baseline measured in the
same run, so every throughput names its baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from bullseye_devtools.bench import catalog, machine, report
from bullseye_devtools.bench.registry import REGISTRY, Session, plan, run_all
from bullseye_devtools.stack.process import stop_children_on_sigterm


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bullseye-bench", description="Bullseye benchmarks")
    parser.add_argument("--only", metavar="PREFIX", help="run only benchmarks whose name starts with PREFIX")
    parser.add_argument("--quick", action="store_true", help="tiny runs, to check the harness (figures meaningless)")
    parser.add_argument("--output", type=Path, default=Path("bench-results.json"), help="JSON results file")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (servers' data and logs)")
    return parser.parse_args(argv)


def warn_if_busy(session: Session) -> None:
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load > cpus / 2:
        session.step(f"warning: load average {load:.1f} on {cpus} CPUs: other work competes, figures will be noisy")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")  # pgserver's platformdirs, harmless
    catalog.load()
    if args.list:
        for bench in REGISTRY.values():
            print(f"{bench.name:34} {', '.join(bench.provides)}")
        return 0
    try:
        benchmarks = plan(args.only)
    except KeyError as exc:
        print(f"bullseye-bench: {exc.args[0]}", file=sys.stderr)
        return 2
    about = machine.describe()
    workdir = Path(tempfile.mkdtemp(prefix="bullseye-bench-"))
    stop_children_on_sigterm()
    ok = False
    try:
        with Session(workdir, quick=args.quick) as session:
            session.step(f"{len(benchmarks)} benchmark(s) on {about['cpu_count']} CPUs; work folder {workdir}")
            warn_if_busy(session)
            results = list(run_all(session, benchmarks))
        ok = True
    finally:
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"bullseye-bench: servers' data and logs kept in {workdir}", file=sys.stderr)
    print(report.table(results))
    report.write_json(args.output, about, results)
    print(f"\nwritten to {args.output}", file=sys.stderr)
    missed = [r.name for r in results if report.verdict(r, session.results) is False]
    return 1 if args.check and missed else 0
