"""`python -m bullseye_profile [serve|migrate|config]` — the profile process."""

from __future__ import annotations

from bullseye_platform.service import run_service

from bullseye_profile import bootstrap
from bullseye_profile.config import PREFIX, ProfileConfig


def main(argv: list[str] | None = None) -> int:
    return run_service(
        argv,
        name="profile",
        config_type=ProfileConfig,
        prefix=PREFIX,
        build=bootstrap.build,
        open_store=bootstrap.open_store,
    )


if __name__ == "__main__":
    raise SystemExit(main())
