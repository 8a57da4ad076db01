"""`python -m bullseye_devtools.charts [--check]`: (re)write every service chart's values.schema.json.

A service chart is a folder of deploy/helm whose Chart.yaml names its Python module and
variable prefix (annotations bullseye.dev/module, bullseye.dev/prefix). The module is run
as a process, `python -m <module> config --json`: devtools never imports a service.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from bullseye_devtools.charts.schema import chart_schema

ROOT = Path(__file__).resolve().parents[5]
HELM = ROOT / "deploy" / "helm"
BASE = HELM / "bullseye-lib" / "values.base.schema.json"


def service_charts(helm: Path = HELM) -> list[Path]:
    """The chart folders that belong to a service (not the library, not the umbrella)."""
    found = []
    for chart in sorted(p.parent for p in helm.glob("*/Chart.yaml")):
        annotations = yaml.safe_load((chart / "Chart.yaml").read_text()).get("annotations") or {}
        if "bullseye.dev/module" in annotations:
            found.append(chart)
    return found


def render(chart: Path) -> str:
    """The values.schema.json `chart` should have, as text."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    module, prefix = meta["annotations"]["bullseye.dev/module"], meta["annotations"]["bullseye.dev/prefix"]
    described = subprocess.run(
        [sys.executable, "-m", module, "config", "--json"], capture_output=True, text=True, check=True
    )
    variables: dict[str, Any] = json.loads(described.stdout)
    values = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    base = json.loads(BASE.read_text())
    schema = chart_schema(base, chart=meta["name"], prefix=prefix, values=values, variables=variables)
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bullseye-charts", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming every stale schema")
    args = parser.parse_args(argv)
    stale = []
    for chart in service_charts():
        target, text = chart / "values.schema.json", render(chart)
        if target.exists() and target.read_text() == text:
            continue
        stale.append(target)
        if not args.check:
            target.write_text(text)
    for target in stale:
        verb = "is stale (run: python -m bullseye_devtools.charts)" if args.check else "written"
        print(f"{target.relative_to(ROOT)} {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
