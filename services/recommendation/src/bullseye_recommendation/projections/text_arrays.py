"""Lists of strings in a batched insert: `unnest` takes one array per column and no arrays of
arrays, so each row's list travels joined by the unit separator (which no validated id,
category or tag contains) and is split back in SQL."""

from __future__ import annotations

from collections.abc import Iterable

SEPARATOR = "\x1f"


def joined(values: Iterable[str]) -> str:
    return SEPARATOR.join(values)


def split(column: str) -> str:
    """The SQL expression that turns the joined `column` back into a text[]."""
    return f"CASE WHEN {column} = '' THEN '{{}}'::text[] ELSE string_to_array({column}, E'\\x1f') END"
