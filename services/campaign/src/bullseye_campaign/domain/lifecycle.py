"""The campaign state machine: which command may move a campaign from which state, and
what an update may change in each state.

    draft ──Launch──▶ scheduled ──(start time)──▶ running ◀──Resume── paused
      │   └─Launch (start now)─────────────────────▶ │ ──Pause / guardrail──▶ │
      │                                              └──(end time, broadcast done)──▶ completed
      └── Cancel (also from scheduled, running, paused) ──▶ cancelled

A command whose target is the current state changes nothing and succeeds (a retried Pause
is not an error); anything else not drawn is FAILED_PRECONDITION naming the state and what
it allows. Once running, the experiment's design (audience, entry, channels, variants and
weights, holdout, goal, rollout) is frozen: changing it would mix two experiments in one
report. Wording, limits, costs and the end time stay editable.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye_platform.grpc.errors import FailedPrecondition

from bullseye_campaign.domain import names

S = cpb.CampaignState


class Command(enum.Enum):
    LAUNCH = "launch"
    START = "start"  # the start time came
    PAUSE = "pause"  # by an operator or a guardrail
    RESUME = "resume"
    CANCEL = "cancel"
    COMPLETE = "complete"  # the end time came, or a one-off broadcast is done


_TRANSITIONS: dict[tuple[int, Command], int] = {
    (S.CAMPAIGN_STATE_DRAFT, Command.LAUNCH): S.CAMPAIGN_STATE_RUNNING,
    (S.CAMPAIGN_STATE_SCHEDULED, Command.START): S.CAMPAIGN_STATE_RUNNING,
    (S.CAMPAIGN_STATE_RUNNING, Command.PAUSE): S.CAMPAIGN_STATE_PAUSED,
    (S.CAMPAIGN_STATE_PAUSED, Command.RESUME): S.CAMPAIGN_STATE_RUNNING,
    **{(state, Command.CANCEL): S.CAMPAIGN_STATE_CANCELLED for state in (
        S.CAMPAIGN_STATE_DRAFT, S.CAMPAIGN_STATE_SCHEDULED, S.CAMPAIGN_STATE_RUNNING, S.CAMPAIGN_STATE_PAUSED)},
    **{(state, Command.COMPLETE): S.CAMPAIGN_STATE_COMPLETED for state in (
        S.CAMPAIGN_STATE_RUNNING, S.CAMPAIGN_STATE_PAUSED)},
}  # fmt: skip
# A repeat of a command that already took effect: its state reached, nothing to do.
_DONE = {
    Command.LAUNCH: (S.CAMPAIGN_STATE_SCHEDULED, S.CAMPAIGN_STATE_RUNNING),
    Command.START: (S.CAMPAIGN_STATE_RUNNING,),
    Command.PAUSE: (S.CAMPAIGN_STATE_PAUSED,),
    Command.RESUME: (S.CAMPAIGN_STATE_RUNNING,),
    Command.CANCEL: (S.CAMPAIGN_STATE_CANCELLED,),
    Command.COMPLETE: (S.CAMPAIGN_STATE_COMPLETED,),
}
DESIGN_FIELDS = ("audience", "entry", "re_entry", "exit", "channels", "channel_selection", "holdout_percent", "goal",
                 "rollout", "start_time")  # fmt: skip
_EDITABLE_IN = (S.CAMPAIGN_STATE_DRAFT, S.CAMPAIGN_STATE_SCHEDULED)
_FINAL = (S.CAMPAIGN_STATE_COMPLETED, S.CAMPAIGN_STATE_CANCELLED)


@dataclass(frozen=True)
class Transition:
    target: int
    changed: bool


def transition(state: int, command: Command, *, scheduled: bool = False) -> Transition:
    """Where `command` takes a campaign in `state`; `scheduled` makes Launch wait for start_time.

    Raises:
        FailedPrecondition: the command is not allowed in `state`.
    """
    if state in _DONE[command]:
        return Transition(state, changed=False)
    target = _TRANSITIONS.get((state, command))
    if target is None:
        raise FailedPrecondition(
            f"campaign is {names.state(state)}: cannot {command.value} it ({_allowed(state)})", reason="INVALID_STATE"
        )
    if command is Command.LAUNCH and scheduled:
        target = S.CAMPAIGN_STATE_SCHEDULED
    return Transition(target, changed=True)


def check_update(stored: cpb.Campaign, proposed: cpb.Campaign) -> None:
    """Refuse an update the stored campaign's state does not allow.

    Raises:
        FailedPrecondition: the campaign is final, or running/paused and a design field changed.
    """
    if stored.state in _EDITABLE_IN:
        return
    name = names.state(stored.state)
    if stored.state in _FINAL:
        raise FailedPrecondition(f"campaign is {name}: it can no longer change", reason="INVALID_STATE")
    changed = [field for field in DESIGN_FIELDS if _differs(stored, proposed, field)]
    changed += _variant_design_changes(stored, proposed)
    if changed:
        raise FailedPrecondition(
            f"campaign is {name}: its experiment design is frozen, {', '.join(changed)} cannot change "
            "(only name, description, content wording, limits, costs and end_time); create a new campaign instead",
            reason="DESIGN_FROZEN",
        )


def _differs(stored: cpb.Campaign, proposed: cpb.Campaign, field: str) -> bool:
    return bool(getattr(stored, field) != getattr(proposed, field))


def _variant_design_changes(stored: cpb.Campaign, proposed: cpb.Campaign) -> list[str]:
    """Variants may change wording only: ids, weights and channels stay."""

    def design(campaign: cpb.Campaign) -> list[tuple[str, int, tuple[int, ...]]]:
        return [(v.variant_id, v.weight, tuple(c.channel for c in v.contents)) for v in campaign.variants]

    return ["variants (ids, weights or channels)"] if design(stored) != design(proposed) else []


def _allowed(state: int) -> str:
    commands = [command.value for (from_state, command) in _TRANSITIONS if from_state == state]
    commands = [c for c in commands if c not in (Command.START.value, Command.COMPLETE.value)]
    return f"it allows {', '.join(commands)}" if commands else "it is final"


def next_stage(campaign: cpb.Campaign, *, expected_stage: int) -> Transition:
    """The rollout stage AdvanceRollout moves to (`target` is a stage index here).

    Raises:
        FailedPrecondition: no rollout, not running or paused, a stale expected stage, or at 100%.
    """
    if campaign.state not in (S.CAMPAIGN_STATE_RUNNING, S.CAMPAIGN_STATE_PAUSED):
        raise FailedPrecondition(
            f"campaign is {names.state(campaign.state)}: a rollout advances only while running or paused",
            reason="INVALID_STATE",
        )
    stages, current = list(campaign.rollout.stage_percents), campaign.rollout_stage
    if not stages:
        raise FailedPrecondition("campaign has no rollout: it reached 100% at launch", reason="NO_ROLLOUT")
    if expected_stage == current - 1:
        return Transition(current, changed=False)  # a retry of the advance that got here
    if expected_stage != current:
        raise FailedPrecondition(
            f"rollout is at stage {current} ({stages[current]}%), not {expected_stage}: read the campaign again",
            reason="STAGE_MISMATCH",
        )
    if current == len(stages) - 1:
        raise FailedPrecondition(f"rollout is at its last stage ({stages[current]}%)", reason="ROLLOUT_COMPLETE")
    return Transition(current + 1, changed=True)
