"""The thresholds profiles are computed with (defaults documented in config.py)."""

from __future__ import annotations

from dataclasses import dataclass

DAY = 86400.0


@dataclass(frozen=True, kw_only=True)
class ProfilePolicy:
    """Seconds for durations; price band limits in major currency units."""

    new_within: float = 30 * DAY
    stable_orders: int = 3
    dormant_after: float = 60 * DAY
    churned_after: float = 180 * DAY
    default_purchase_gap: float = 30 * DAY
    affinity_half_life: float = 30 * DAY
    price_bands: tuple[float, ...] = (20.0, 100.0, 500.0)
    cart_abandon_after: float = 3600.0
    session_gap: float = 1800.0


DEFAULT_POLICY = ProfilePolicy()
