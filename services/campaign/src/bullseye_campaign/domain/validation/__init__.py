"""Checks of a campaign definition, each problem a field violation at its path.

Two levels: a draft (create, update) is checked only for what is present and for
consistency (weights that do not sum, an impossible rollout order, a template that does not
parse), so an operator can save work in progress; a launch also requires what a running
campaign cannot do without (an audience, an entry, a channel, variants, a goal). Whether a
named segment exists is the service's question (it asks profile).
"""

from __future__ import annotations

from datetime import datetime

from bullseye.campaign.v1 import definition_pb2 as cpb

from bullseye_campaign.domain.templates import Templates
from bullseye_campaign.domain.validation import audience, limits, measure, messages
from bullseye_campaign.domain.validation.ids import id_problem
from bullseye_campaign.domain.violations import Violations

MAX_NAME, MAX_DESCRIPTION = 200, 2_000


def check_campaign(
    campaign: cpb.Campaign, *, templates: Templates, launch: bool, now: datetime | None = None
) -> Violations:
    """Every problem of `campaign`; `launch` adds completeness and `now` the schedule checks."""
    problems = Violations(prefix="campaign")
    _check_identity(problems, campaign)
    audience.check(problems, campaign, launch=launch)
    messages.check(problems, campaign, templates=templates, launch=launch)
    measure.check(problems, campaign, launch=launch)
    limits.check(problems, campaign)
    _check_schedule(problems, campaign, now=now)
    return problems


def _check_identity(problems: Violations, campaign: cpb.Campaign) -> None:
    if campaign.campaign_id and (problem := id_problem(campaign.campaign_id, "campaign_id")):
        problems.add("campaign_id", problem)
    if not campaign.name.strip():
        problems.add("name", "required: 1 to 200 characters")
    elif len(campaign.name) > MAX_NAME:
        problems.add("name", f"at most {MAX_NAME} characters")
    if len(campaign.description) > MAX_DESCRIPTION:
        problems.add("description", f"at most {MAX_DESCRIPTION} characters")


def _check_schedule(problems: Violations, campaign: cpb.Campaign, *, now: datetime | None) -> None:
    has_start, has_end = campaign.HasField("start_time"), campaign.HasField("end_time")
    if has_start and has_end and campaign.end_time.ToDatetime() <= campaign.start_time.ToDatetime():
        problems.add("end_time", "must be after start_time")
    elif has_end and now is not None and campaign.end_time.ToDatetime().timestamp() <= now.timestamp():
        problems.add("end_time", "is in the past: a campaign that ends before it launches would send nothing")
