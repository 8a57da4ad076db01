"""`python -m bullseye_identity [serve|migrate|config|rebuild]` — the identity process."""

from __future__ import annotations

from bullseye_platform.service import run_service

from bullseye_identity import bootstrap
from bullseye_identity.config import PREFIX, IdentityConfig
from bullseye_identity.projections.rebuild import rebuild


def main(argv: list[str] | None = None) -> int:
    return run_service(
        argv,
        name="identity",
        config_type=IdentityConfig,
        prefix=PREFIX,
        build=bootstrap.build,
        open_store=bootstrap.open_store,
        commands={"rebuild": rebuild},
    )


if __name__ == "__main__":
    raise SystemExit(main())
