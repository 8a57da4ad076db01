"""A service chart's values.schema.json: the library's base schema plus the service's variables.

The variables come from the service itself (`python -m <module> config --json`, its typed
config as JSON Schema), so `config` accepts exactly the variables the service reads, typed
as it parses them, and refuses credentials, which belong in `secretEnv` (read from existing
Secrets). Variables the chart sets itself (ports, drain and grace, the components'
switches) are in neither: a value there would be silently overridden.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

# Set by bullseye-lib's templates for every service (`_config.tpl`), after the prefix.
SET_BY_TEMPLATES = ("GRPC_PORT", "METRICS_PORT", "DRAIN_DELAY", "SHUTDOWN_GRACE")
# Standard OpenTelemetry variables the services' SDK reads (exporter endpoint, sampler, ...).
OTEL = "^OTEL_[A-Z0-9_]+$"


def set_by_chart(prefix: str, values: Mapping[str, Any]) -> set[str]:
    """The variables the chart sets: the templates' own and each component's switches."""
    owned = {f"{prefix}_{name}" for name in SET_BY_TEMPLATES}
    for component in (values.get("components") or {}).values():
        owned.update((component.get("env") or {}).keys())
        owned.update(v for v in (component.get("ordinalEnv"), component.get("countEnv")) if v)
    return owned


def _plain(variable: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in variable.items() if not k.startswith("x-")}


def chart_schema(
    base: Mapping[str, Any], *, chart: str, prefix: str, values: Mapping[str, Any], variables: Mapping[str, Any]
) -> dict[str, Any]:
    """The whole schema of `chart` from the library's `base` and the service's `variables`."""
    owned = set_by_chart(prefix, values)
    mine = {name: v for name, v in sorted(variables.items()) if name not in owned}
    schema = copy.deepcopy(dict(base))
    schema["title"] = f"Values of the {chart} chart"
    properties = schema["properties"]
    properties["config"] = {
        "type": "object",
        "description": f"{chart}'s variables (ConfigMap); credentials go in secretEnv",
        "additionalProperties": False,
        "properties": {name: _plain(v) for name, v in mine.items() if not v["x-secret"]},
        "patternProperties": {OTEL: {"type": ["string", "number", "boolean"]}},
    }
    properties["secretEnv"] = {
        "type": "object",
        "description": f"{chart}'s variables read from existing Secrets: {{name, key}} each",
        "additionalProperties": False,
        "required": [name for name, v in mine.items() if v["x-secret"] and v["x-required"]],
        "properties": {
            name: {"$ref": "#/definitions/secretRef", "description": v["description"]} for name, v in mine.items()
        },
    }
    properties["components"]["propertyNames"] = {"enum": sorted((values.get("components") or {}).keys())}
    return schema
