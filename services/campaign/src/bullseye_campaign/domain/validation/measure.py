"""How a campaign is measured and widened: conversion goal, costs, staged rollout."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bullseye.campaign.v1 import definition_pb2 as cpb

from bullseye_campaign.domain.events import check_filter
from bullseye_campaign.domain.violations import DAY, HOUR, Violations

Advance = cpb.RolloutAdvance
MAX_STAGES = 10
MIN_ARM, MAX_ARM = 100, 10_000_000
CURRENCY = re.compile(r"[A-Z]{3}")


def check(problems: Violations, campaign: cpb.Campaign, *, launch: bool) -> None:
    _goal(problems.at("goal"), campaign, launch=launch)
    if campaign.HasField("rollout"):
        _rollout(problems.at("rollout"), campaign.rollout, holdout=campaign.holdout_percent)
    _costs(problems, campaign.costs)


def _goal(problems: Violations, campaign: cpb.Campaign, *, launch: bool) -> None:
    goal = campaign.goal
    if not campaign.HasField("goal") or not goal.event.event_type:
        if launch:
            problems.required("event", "the conversion event, e.g. order_completed")
    else:
        check_filter(problems.at("event"), goal.event)
    if goal.HasField("attribution_window"):
        problems.duration("attribution_window", goal.attribution_window, low=HOUR, high=30 * DAY)
    elif launch:
        problems.required("attribution_window", "how long after a send a conversion counts (1h to 30d)")
    if goal.HasField("retention_window"):
        problems.duration("retention_window", goal.retention_window, low=DAY, high=90 * DAY)


def _rollout(problems: Violations, rollout: cpb.Rollout, *, holdout: int) -> None:
    _stages(problems, list(rollout.stage_percents))
    if rollout.advance == Advance.ROLLOUT_ADVANCE_AUTOMATIC:
        problems.duration("min_stage_duration", rollout.min_stage_duration, low=HOUR, high=30 * DAY)
        if not MIN_ARM <= rollout.min_arm_size <= MAX_ARM:
            problems.add("min_arm_size", f"{MIN_ARM} to {MAX_ARM:,} people per arm before advancing")
        if holdout == 0:
            problems.add("advance", "AUTOMATIC needs a holdout (holdout_percent > 0): guardrails compare to it")
    elif rollout.HasField("min_stage_duration") or rollout.min_arm_size:
        problems.add("advance", "min_stage_duration and min_arm_size are used only with AUTOMATIC")
    if rollout.max_conversion_drop and not 0.01 <= rollout.max_conversion_drop <= 1:
        problems.add("max_conversion_drop", f"0.01 to 1 (0 means 0.2), got {rollout.max_conversion_drop:g}")


def _stages(problems: Violations, stages: list[int]) -> None:
    if not 1 <= len(stages) <= MAX_STAGES:
        problems.add("stage_percents", f"1 to {MAX_STAGES} stages, e.g. [5, 20, 100]")
        return
    for i, percent in enumerate(stages):
        if not 1 <= percent <= 100:
            problems.add(f"stage_percents[{i}]", f"1 to 100 percent, got {percent}")
        elif i and percent <= stages[i - 1]:
            problems.add(f"stage_percents[{i}]", f"stages only grow: {percent} after {stages[i - 1]}")
    if 1 <= stages[-1] < 100:
        last = f"stage_percents[{len(stages) - 1}]"
        problems.add(last, f"the last stage is 100 (the whole audience), got {stages[-1]}")


def _costs(problems: Violations, costs: Sequence[cpb.ChannelCost]) -> None:
    seen: set[int] = set()
    currencies = {cost.cost.currency_code for cost in costs}
    for i, cost in enumerate(costs):
        where = problems.at(f"costs[{i}]")
        if cost.channel == cpb.Channel.CHANNEL_UNSPECIFIED or cost.channel in seen:
            where.add("channel", "one cost per channel, CHANNEL_UNSPECIFIED excluded")
        seen.add(cost.channel)
        money = cost.cost
        if not CURRENCY.fullmatch(money.currency_code):
            where.add("cost.currency_code", "an ISO 4217 code, e.g. EUR")
        if money.units < 0 or money.nanos < 0 or not money.nanos < 1_000_000_000:
            where.add("cost", "non-negative, nanos 0 to 999,999,999")
    if len(currencies) > 1:
        problems.add("costs", f"one currency for every cost, got {', '.join(sorted(currencies))}")
