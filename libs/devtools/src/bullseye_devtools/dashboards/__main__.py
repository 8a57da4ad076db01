"""`python -m bullseye_devtools.dashboards [--check]`: (re)write deploy/grafana/*.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bullseye_devtools.dashboards.catalog import DASHBOARDS
from bullseye_devtools.dashboards.grafana import to_json

ROOT = Path(__file__).resolve().parents[5]
GRAFANA = ROOT / "deploy" / "grafana"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bullseye-dashboards", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming every stale dashboard")
    args = parser.parse_args(argv)
    stale = []
    for name, dashboard in DASHBOARDS.items():
        target, text = GRAFANA / f"{name}.json", json.dumps(to_json(dashboard), indent=2) + "\n"
        if target.exists() and target.read_text() == text:
            continue
        stale.append(target)
        if not args.check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    for target in stale:
        print(f"{target.relative_to(ROOT)} {'is stale' if args.check else 'written'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
