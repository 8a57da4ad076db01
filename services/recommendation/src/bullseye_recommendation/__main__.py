"""`python -m bullseye_recommendation [serve|migrate|config|rebuild|train|register]` — the recommendation process."""

from __future__ import annotations

from bullseye_platform.service import run_service

from bullseye_recommendation import bootstrap
from bullseye_recommendation.config import PREFIX, RecommendationConfig
from bullseye_recommendation.projections.rebuild import rebuild
from bullseye_recommendation.registry.commands import register, train


def main(argv: list[str] | None = None) -> int:
    return run_service(
        argv,
        name="recommendation",
        config_type=RecommendationConfig,
        prefix=PREFIX,
        build=bootstrap.build,
        open_store=bootstrap.open_store,
        commands={"rebuild": rebuild, "train": train, "register": register},
    )


if __name__ == "__main__":
    raise SystemExit(main())
