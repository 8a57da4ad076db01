"""`python -m bullseye_devtools.demo` (`make demo`): the platform end to end on one machine.

Runs `STEPS` in order on a stack it starts itself in .data/demo and always stops it, on
success, on error and on Ctrl-C, unless --keep-running was asked for (then at Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from bullseye_devtools.demo import report
from bullseye_devtools.demo.context import DemoContext, DemoOptions
from bullseye_devtools.demo.steps import STEPS, Step
from bullseye_devtools.stack import secrets
from bullseye_devtools.stack.process import stop_children_on_sigterm
from bullseye_devtools.traffic.realistic.generator import FEWEST


def _parser() -> argparse.ArgumentParser:
    defaults = DemoOptions()
    parser = argparse.ArgumentParser(prog="bullseye-demo", description="Run the Bullseye demo end to end")
    parser.add_argument("--shoppers", type=int, default=defaults.shoppers, help="shoppers to simulate (default 2000)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="traffic seed (default 42)")
    parser.add_argument("--data-dir", type=Path, default=defaults.data_dir, help="stack folder, wiped at start")
    parser.add_argument("--report-dir", type=Path, default=defaults.report_dir, help="where demo.md and the PNG go")
    parser.add_argument("--journeys", type=int, default=defaults.journeys, help="persons with ground truth (1000)")
    parser.add_argument("--realistic", type=int, default=defaults.realistic, help="realistic journeys' persons (500)")
    parser.add_argument("--days", type=float, default=defaults.days, help="traffic reaches back this far (90)")
    parser.add_argument("--resend", type=int, default=defaults.resend, help="events resent to show idempotency")
    parser.add_argument("--keep-running", action="store_true", help="leave the stack up until Ctrl-C")
    return parser


async def run_steps(ctx: DemoContext, steps: list[Step]) -> None:
    for number, step in enumerate(steps, 1):
        print(f"[{number}/{len(steps)}] {step.title} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        await step.run(ctx)
        print(f"      done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)


def _wait_for_ctrl_c(ctx: DemoContext) -> None:
    stack = ctx.running()
    where = f"ingestion {stack.ingestion_address}, identity {stack.identity_address}, profile {stack.profile_address}"
    print(f"\nThe stack keeps running (Ctrl-C stops it): {where}")
    for name, value in {**stack.env, "BULLSEYE_API_KEY": ctx.api_key}.items():
        if name not in secrets.NAMES:  # keys stay off the console
            print(f"  {name}={value}")
    while True:
        time.sleep(3600)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.shoppers < 1 or args.resend < 0 or args.journeys < 1 or not 1 <= args.days <= 365:
        print("--shoppers and --journeys must be >= 1, --resend >= 0, --days 1 to 365", file=sys.stderr)
        return 2
    if args.realistic and args.realistic < FEWEST:
        print(f"--realistic must be 0 (none) or at least {FEWEST}", file=sys.stderr)
        return 2
    options = DemoOptions(
        shoppers=args.shoppers, seed=args.seed, data_dir=args.data_dir, report_dir=args.report_dir,
        resend=args.resend, journeys=args.journeys, realistic=args.realistic, days=args.days,
        keep_running=args.keep_running,
    )  # fmt: skip
    ctx = DemoContext(options)
    stop_children_on_sigterm()
    finished = False
    try:
        with ctx.cleanup:
            asyncio.run(run_steps(ctx, STEPS))
            finished = True
            print(report.to_text(ctx))
            if options.keep_running:
                _wait_for_ctrl_c(ctx)
    except KeyboardInterrupt:
        print("\ninterrupted; the stack was stopped", file=sys.stderr)
        if not finished:
            return 130
    except Exception as exc:
        print(f"\ndemo failed: {type(exc).__name__}: {exc}\n(logs: {options.data_dir})", file=sys.stderr)
        return 1
    return 0 if ctx.passed else 1
