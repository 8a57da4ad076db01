"""Typed configuration from environment variables, loud on mistakes.

Every service declares a frozen dataclass whose fields carry `env(...)` metadata; `load()`
reads them with the service's prefix and stops start-up with one message that names
every missing or malformed variable (the starlette `Config` idea, typed).
"""

from __future__ import annotations

import dataclasses
import enum
import os
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING = dataclasses.MISSING


class ConfigError(Exception):
    """Raised when one or more environment variables are missing or malformed."""


def env(name: str, *, default: Any = _MISSING, help: str = "", secret: bool = False) -> Any:
    """Declare a config field read from `<PREFIX>_<name>` (or `name` if it starts with '!').

    `secret`: a credential (a key, a token, a DSN with a password): deployments read it from
    a Secret, never from plain configuration (the charts' schemas refuse it there).
    """
    return dataclasses.field(default=default, metadata={"env": name, "help": help, "secret": secret})


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected one of true/false/1/0/yes/no/on/off")


def parse_duration(raw: str) -> float:
    """Seconds from '250ms', '10s', '5m', '2h', '7d' or a bare number of seconds."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    text = raw.strip().lower()
    for suffix in ("ms", "s", "m", "h", "d"):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


class Duration(float):
    """A float number of seconds that config parses from '10s', '5m', '7d'."""


_PARSERS: dict[Any, Callable[[str], Any]] = {
    str: str,
    int: int,
    float: float,
    bool: _parse_bool,
    Duration: lambda raw: Duration(parse_duration(raw)),
}


def _parser_for(annotation: Any) -> Callable[[str], Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _parser_for(inner[0])
    if origin is tuple:
        item = _parser_for(typing.get_args(annotation)[0])
        return lambda raw: tuple(item(part.strip()) for part in raw.split(",") if part.strip())
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return lambda raw: annotation(raw.strip().lower())
    if isinstance(annotation, type) and hasattr(annotation, "from_env"):  # a type that parses itself (keys)
        return annotation.from_env  # type: ignore[no-any-return]
    return _PARSERS[annotation]


def _shown(annotation: Any, raw: str) -> str:
    """How a bad value is quoted in the error: never, for a secret (a type with `secret = True`)."""
    return "(value not shown: a secret)" if getattr(annotation, "secret", False) else repr(raw)


def variable_name(prefix: str, field: dataclasses.Field[Any]) -> str:
    name: str = field.metadata["env"]
    return name[1:] if name.startswith("!") else f"{prefix}_{name}"


def load(cls: type[T], *, prefix: str, environ: Mapping[str, str] | None = None) -> T:
    """Build `cls` from the environment.

    Raises:
        ConfigError: naming every variable that is missing or cannot be parsed.
    """
    source = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        var = variable_name(prefix, field)
        raw = source.get(var)
        if raw is None or raw == "":
            if field.default is _MISSING:
                problems.append(f"{var} is required ({field.metadata.get('help') or field.name})")
            continue
        try:
            values[field.name] = _parser_for(hints[field.name])(raw)
        except (ValueError, KeyError) as exc:
            kind = hints[field.name]
            problems.append(f"{var}={_shown(kind, raw)} is not a valid {getattr(kind, '__name__', kind)}: {exc}")
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return cls(**values)


def load_or_exit(cls: type[T], *, prefix: str, program: str) -> T:
    """`load()` for an entry point: a bad configuration prints its problems and exits 2."""
    try:
        return load(cls, prefix=prefix)
    except ConfigError as exc:
        print(f"{program}: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


# How each type is written in an environment variable, as JSON Schema for values files that
# set variables (YAML may give a number or a boolean where the process reads a string).
_BOOL_WORDS = "true|false|True|False|TRUE|FALSE|1|0|yes|no|on|off"
_SCHEMAS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": ["integer", "string"], "pattern": "^-?[0-9]+$"},
    float: {"type": ["number", "string"], "pattern": "^-?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?$"},
    bool: {"type": ["boolean", "string"], "pattern": f"^({_BOOL_WORDS})$"},
    Duration: {"type": ["number", "string"], "pattern": "^[0-9]*[.]?[0-9]+(ms|s|m|h|d)?$"},
}


def _schema_for(annotation: Any) -> dict[str, Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return _schema_for(next(a for a in typing.get_args(annotation) if a is not type(None)))
    if origin is tuple:
        return {"type": "string", "description": "comma-separated"}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"type": "string", "enum": [member.value for member in annotation]}
    if isinstance(annotation, type) and hasattr(annotation, "from_env"):  # a type that parses itself (keys)
        return {"type": "string"}
    return dict(_SCHEMAS[annotation])


def json_schema(cls: type[Any], *, prefix: str) -> dict[str, dict[str, Any]]:
    """Every variable of `cls` as a JSON Schema property, with `x-secret` and `x-required`:
    what the Helm charts' values.schema.json are generated from."""
    hints = typing.get_type_hints(cls)
    properties = {}
    for field in dataclasses.fields(cls):
        schema = _schema_for(hints[field.name])
        default = "" if field.default is _MISSING else f" (default: {field.default!r})"
        schema["description"] = (field.metadata.get("help", "") + default).strip()
        schema["x-secret"] = bool(field.metadata.get("secret")) or getattr(hints[field.name], "secret", False)
        schema["x-required"] = field.default is _MISSING
        properties[variable_name(prefix, field)] = schema
    return properties


def describe(cls: type[Any], *, prefix: str) -> list[tuple[str, str, str]]:
    """(variable, default, help) for every field: the source of docs and `--help` output."""
    rows = []
    for field in dataclasses.fields(cls):
        default = "(required)" if field.default is _MISSING else repr(field.default)
        rows.append((variable_name(prefix, field), default, field.metadata.get("help", "")))
    return rows
