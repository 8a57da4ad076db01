"""Identifiers a campaign names: its own id and segment ids (profile's format)."""

from __future__ import annotations

import re

ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def id_problem(value: str, what: str) -> str | None:
    """What is wrong with a campaign or segment id, or None."""
    if not ID.fullmatch(value):
        return f"{what}: 1-63 of [a-z0-9-], starting with a letter or digit"
    return None
