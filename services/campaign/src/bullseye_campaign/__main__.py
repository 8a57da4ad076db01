"""`python -m bullseye_campaign [serve|migrate|config|rebuild]` — the campaign process."""

from __future__ import annotations

from bullseye_platform.service import run_service

from bullseye_campaign import bootstrap
from bullseye_campaign.config import PREFIX, CampaignConfig
from bullseye_campaign.projections.rebuild import rebuild


def main(argv: list[str] | None = None) -> int:
    return run_service(
        argv,
        name="campaign",
        config_type=CampaignConfig,
        prefix=PREFIX,
        build=bootstrap.build,
        open_store=bootstrap.open_store,
        commands={"rebuild": rebuild},
    )


if __name__ == "__main__":
    raise SystemExit(main())
