"""Rendering the Helm charts with the real Helm engine (helm-python-sdk embeds Helm's Go SDK).

Charts depend on the library chart (and the umbrella on the service charts) through
`file://` repositories; like `helm dependency update`, the charts are copied to a folder of
the test's own and their dependencies built there, so the source tree stays untouched.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / "deploy" / "helm"
SERVICES = ("identity", "ingestion", "profile", "campaign", "recommendation")  # service charts; "bullseye": umbrella
PRODUCTION = HELM / "bullseye" / "values-production.yaml"
RELEASE, NAMESPACE = "bullseye", "shop"

Manifest = dict[str, Any]


def build(into: Path) -> Path:
    """A copy of deploy/helm with every chart's dependencies built, leaves first."""
    target = into / "helm"
    shutil.copytree(HELM, target, ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    for chart in (*SERVICES, "bullseye"):
        helm.dependency_update(target / chart)
    return target


@dataclass(frozen=True)
class Rendered:
    """The objects one `helm template` produced, with what they came from."""

    chart: str
    objects: list[Manifest]

    def of_kind(self, kind: str) -> list[Manifest]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> Manifest:
        [found] = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        return found


def render(charts: Path, chart: str, values: Mapping[str, Any] | None = None) -> Rendered:
    """Render `chart` as an install of release `bullseye` in namespace `shop`, hooks included.

    Raises:
        helm_python.HelmValuesError: the values break the chart's values.schema.json.
        helm_python.HelmRenderError: a template failed (its message says which value).
    """
    loaded = helm.Chart.load(charts / chart)
    manifests = loaded.render(dict(values or {}), name=RELEASE, namespace=NAMESPACE, is_install=True)
    texts = [text for path, text in manifests.items() if path.endswith((".yaml", ".yml"))]
    objects = [doc for text in texts for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]
    return Rendered(chart, objects)


def production_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(PRODUCTION.read_text())
    return values
