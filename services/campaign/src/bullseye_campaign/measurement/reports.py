"""GetReport: the domain's report (domain/report.py) over the counts of each arm, and what is
still to come (persons entered but not decided, a broadcast still entering its audience)."""

from __future__ import annotations

from datetime import datetime

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import records_pb2 as rpb
from bullseye_platform.store.pool import Connection

from bullseye_campaign.delivery import broadcasts, entries
from bullseye_campaign.delivery.situation import rollout_percent
from bullseye_campaign.domain.report import ReportOptions, build
from bullseye_campaign.measurement.counts import totals

NO_CURRENCY = "XXX"  # ISO 4217's code for "no currency involved"


async def report(
    conn: Connection, campaign: cpb.Campaign, *, now: datetime, sequential: bool, tuning: int, srm_alpha: float
) -> rpb.Report:
    arms, revenue_currency = await totals(conn, campaign)
    currency = next((c.cost.currency_code for c in campaign.costs), "") or revenue_currency or NO_CURRENCY
    options = ReportOptions(currency=currency, sequential=sequential, tuning=tuning, srm_alpha=srm_alpha)
    measured = build(campaign_id=campaign.campaign_id, version=campaign.version, computed_at=now,
                     rollout_percent=rollout_percent(campaign), arms=arms, options=options)  # fmt: skip
    measured.undecided = await entries.undecided(conn, campaign.campaign_id)
    measured.entering = await broadcasts.unfinished(conn, campaign.campaign_id)
    return measured
