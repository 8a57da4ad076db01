"""Grafana's JSON model (schemaVersion 39) for the few shapes the dashboards use.

Panels are laid out two per row in the order given; a `Row` starts a new band. Every
query goes to the `$datasource` variable and is filtered by `$namespace`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

WIDTH, HEIGHT = 12, 8
RATE = "$__rate_interval"  # Grafana's: at least four scrape intervals


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    queries: Sequence[Query]
    unit: str = "short"
    description: str = ""
    stack: bool = False


@dataclass(frozen=True)
class Row:
    title: str


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    items: Sequence[Panel | Row] = field(default_factory=list)


def sel(job: str | None = None, **labels: str) -> str:
    """Label matchers for one service's series (job = its name) in the chosen namespace."""
    parts = [f'job="{job}"'] if job else []
    parts.append('namespace="$namespace"')
    operators = {"~": "=~", "!": "!="}  # a value starting with ~ is a regular expression, with ! a negation
    parts += [f'{k}{operators.get(v[:1], "=")}"{v.lstrip("~!")}"' for k, v in labels.items()]
    return "{" + ",".join(parts) + "}"


def p99(bucket: str, selector: str, by: str) -> str:
    return f"histogram_quantile(0.99, sum by (le, {by}) (rate({bucket}{selector}[{RATE}])))"


def _datasource() -> dict[str, str]:
    return {"type": "prometheus", "uid": "${datasource}"}


def _panel(panel: Panel, number: int, x: int, y: int) -> dict[str, Any]:
    return {
        "id": number,
        "type": "timeseries",
        "title": panel.title,
        "description": panel.description,
        "datasource": _datasource(),
        "gridPos": {"x": x, "y": y, "w": WIDTH, "h": HEIGHT},
        "fieldConfig": {
            "defaults": {"unit": panel.unit, "custom": {"stacking": {"mode": "normal" if panel.stack else "none"}}},
            "overrides": [],
        },
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]}},
        "targets": [
            {"refId": chr(ord("A") + n), "datasource": _datasource(), "expr": q.expr, "legendFormat": q.legend}
            for n, q in enumerate(panel.queries)
        ],
    }


def _templating() -> dict[str, Any]:
    return {
        "list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus"},
            {
                "name": "namespace",
                "label": "Namespace",
                "type": "query",
                "datasource": _datasource(),
                "query": {"query": "label_values(rpc_server_calls_total, namespace)", "refId": "namespace"},
                "refresh": 2,
                "sort": 1,
            },
        ]
    }


def to_json(dashboard: Dashboard) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    x = y = 0
    for item in dashboard.items:
        if isinstance(item, Row):
            y += HEIGHT if x else 0
            panels.append({"id": len(panels) + 1, "type": "row", "title": item.title, "collapsed": False,
                           "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})  # fmt: skip
            x, y = 0, y + 1
            continue
        panels.append(_panel(item, len(panels) + 1, x, y))
        x, y = (0, y + HEIGHT) if x else (WIDTH, y)
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["bullseye"],
        "timezone": "utc",
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": _templating(),
        "links": [{"type": "dashboards", "tags": ["bullseye"], "asDropdown": True, "title": "Bullseye"}],
        "panels": panels,
    }
