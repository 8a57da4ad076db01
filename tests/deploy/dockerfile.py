"""A Dockerfile read into stages of instructions, enough to check it without a Docker engine.

Continuation lines are joined, comments dropped, `${ARG}` in FROM resolved from the global
ARG defaults (what a build without --build-arg uses).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) in order, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            found.append((keyword.upper(), " ".join(args.split())))
    return found


def stages(path: Path) -> dict[str, Stage]:
    """The stages by name, in order; a FROM's ${ARG} resolved from the global ARG defaults."""
    defaults: dict[str, str] = {}
    found: dict[str, Stage] = {}
    current: Stage | None = None
    for keyword, args in instructions(path.read_text()):
        if keyword == "ARG" and current is None:
            name, _, value = args.partition("=")
            defaults[name] = value
        elif keyword == "FROM":
            words = shlex.split(args)
            base = re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m[1], m[0]), words[0])
            current = Stage(words[2] if len(words) > 2 and words[1].upper() == "AS" else base, base)
            found[current.name] = current
        elif current is not None:
            current.instructions.append((keyword, args))
    return found


def lineage(all_stages: dict[str, Stage], name: str) -> list[Stage]:
    """A stage and the stages it is built FROM, nearest first."""
    chain = [all_stages[name]]
    while chain[-1].base in all_stages:
        chain.append(all_stages[chain[-1].base])
    return chain
