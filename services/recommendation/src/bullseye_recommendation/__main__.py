"""`python -m bullseye_recommendation [serve|migrate|config|rebuild|train|register]` — the recommendation process."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from bullseye_platform.service import Command, run_service

from bullseye_recommendation import bootstrap
from bullseye_recommendation.config import PREFIX, RecommendationConfig
from bullseye_recommendation.projections.rebuild import rebuild


def registry_command(name: str) -> Command[RecommendationConfig]:
    """A command of registry/commands.py, imported when it runs: the trainer's scipy and onnx
    (about 20 MB) stay out of every serving process."""

    async def run(config: RecommendationConfig, arguments: Sequence[str]) -> int:
        commands = importlib.import_module("bullseye_recommendation.registry.commands")
        code: int = await getattr(commands, name)(config, arguments)
        return code

    return run


def main(argv: list[str] | None = None) -> int:
    return run_service(
        argv,
        name="recommendation",
        config_type=RecommendationConfig,
        prefix=PREFIX,
        build=bootstrap.build,
        open_store=bootstrap.open_store,
        commands={"rebuild": rebuild, "train": registry_command("train"), "register": registry_command("register")},
    )


if __name__ == "__main__":
    raise SystemExit(main())
