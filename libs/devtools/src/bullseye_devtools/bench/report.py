"""The results as a table on stdout and as bench-results.json."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bullseye_devtools.bench.registry import Result

COLUMNS = ("name", "value", "unit", "baseline", "ratio", "target", "result")


def ratio(result: Result, by_name: Mapping[str, Result]) -> float | None:
    base = by_name.get(result.baseline or "")
    if base is None or not base.value or math.isnan(result.value):
        return None
    return result.value / base.value


def verdict(result: Result, by_name: Mapping[str, Result]) -> bool | None:
    return result.target.met(result.value, ratio(result, by_name)) if result.target else None


def entry(result: Result, by_name: Mapping[str, Result]) -> dict[str, Any]:
    base = by_name.get(result.baseline or "")
    passed = verdict(result, by_name)
    return {
        "name": result.name,
        "value": round(result.value, 6 if result.unit == "ratio" else 3),
        "unit": result.unit,
        "baseline": {"name": base.name, "value": round(base.value, 3)} if base else None,
        "ratio": _round(ratio(result, by_name)),
        "target": str(result.target) if result.target else None,
        "pass": passed,
        "detail": result.detail,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _row(result: Result, by_name: Mapping[str, Result]) -> tuple[str, ...]:
    base = by_name.get(result.baseline or "")
    share = ratio(result, by_name)
    passed = verdict(result, by_name)
    return (
        result.name,
        result.shown(),
        result.unit,
        f"{base.name} = {base.value:,.0f}" if base else "",
        f"{share:.3f}" if share is not None else "",
        str(result.target) if result.target else "",
        "" if passed is None else ("PASS" if passed else "FAIL"),
    )


def _line(row: Sequence[str], widths: Sequence[int]) -> str:
    right = {1, 4}  # value and ratio
    cells = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
    return "  ".join(cells).rstrip()


def table(results: Sequence[Result]) -> str:
    by_name = {r.name: r for r in results}
    rows = [COLUMNS, *(_row(r, by_name) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [_line(row, widths) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: Path, machine: Mapping[str, object], results: Sequence[Result]) -> None:
    by_name = {r.name: r for r in results}
    document = {"machine": dict(machine), "results": [entry(r, by_name) for r in results]}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
