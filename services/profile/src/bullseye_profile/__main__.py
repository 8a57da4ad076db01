"""`python -m bullseye_profile [serve|migrate|config|rebuild]` — the profile process."""

from __future__ import annotations

from bullseye_platform.service import run_service

from bullseye_profile import bootstrap
from bullseye_profile.config import PREFIX, ProfileConfig
from bullseye_profile.projections.rebuild import rebuild


def main(argv: list[str] | None = None) -> int:
    return run_service(
        argv,
        name="profile",
        config_type=ProfileConfig,
        prefix=PREFIX,
        build=bootstrap.build,
        open_store=bootstrap.open_store,
        commands={"rebuild": rebuild},
    )


if __name__ == "__main__":
    raise SystemExit(main())
