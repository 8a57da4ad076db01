"""The campaign state machine: allowed transitions, retries that change nothing, frozen design."""

from __future__ import annotations

import grpc
import pytest
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye_campaign.domain.lifecycle import Command, Transition, check_update, next_stage, transition
from bullseye_platform.grpc.errors import FailedPrecondition

from tests.campaign.definitions import campaign

S = cpb.CampaignState


@pytest.mark.parametrize(
    ("state", "command", "target"),
    [
        (S.CAMPAIGN_STATE_DRAFT, Command.LAUNCH, S.CAMPAIGN_STATE_RUNNING),
        (S.CAMPAIGN_STATE_SCHEDULED, Command.START, S.CAMPAIGN_STATE_RUNNING),
        (S.CAMPAIGN_STATE_RUNNING, Command.PAUSE, S.CAMPAIGN_STATE_PAUSED),
        (S.CAMPAIGN_STATE_PAUSED, Command.RESUME, S.CAMPAIGN_STATE_RUNNING),
        (S.CAMPAIGN_STATE_PAUSED, Command.CANCEL, S.CAMPAIGN_STATE_CANCELLED),
        (S.CAMPAIGN_STATE_SCHEDULED, Command.CANCEL, S.CAMPAIGN_STATE_CANCELLED),
        (S.CAMPAIGN_STATE_RUNNING, Command.COMPLETE, S.CAMPAIGN_STATE_COMPLETED),
    ],
)
def test_allowed_transitions(state: int, command: Command, target: int) -> None:
    assert transition(state, command) == Transition(target, changed=True)


def test_launch_with_a_future_start_is_scheduled() -> None:
    assert transition(S.CAMPAIGN_STATE_DRAFT, Command.LAUNCH, scheduled=True).target == S.CAMPAIGN_STATE_SCHEDULED


@pytest.mark.parametrize(
    ("state", "command"),
    [
        (S.CAMPAIGN_STATE_PAUSED, Command.PAUSE),
        (S.CAMPAIGN_STATE_RUNNING, Command.LAUNCH),
        (S.CAMPAIGN_STATE_SCHEDULED, Command.LAUNCH),
        (S.CAMPAIGN_STATE_CANCELLED, Command.CANCEL),
        (S.CAMPAIGN_STATE_RUNNING, Command.RESUME),
    ],
)
def test_a_repeated_command_changes_nothing_and_succeeds(state: int, command: Command) -> None:
    result = transition(state, command)
    assert (result.target, result.changed) == (state, False)


@pytest.mark.parametrize(
    ("state", "command", "message"),
    [
        (S.CAMPAIGN_STATE_DRAFT, Command.PAUSE, "campaign is draft: cannot pause it (it allows launch, cancel)"),
        (S.CAMPAIGN_STATE_COMPLETED, Command.RESUME, "campaign is completed: cannot resume it (it is final)"),
        (S.CAMPAIGN_STATE_CANCELLED, Command.LAUNCH, "campaign is cancelled: cannot launch it (it is final)"),
        (S.CAMPAIGN_STATE_PAUSED, Command.LAUNCH, "campaign is paused: cannot launch it (it allows resume, cancel)"),
        (S.CAMPAIGN_STATE_COMPLETED, Command.CANCEL, "campaign is completed: cannot cancel it (it is final)"),
    ],
)
def test_a_forbidden_transition_is_a_failed_precondition_naming_the_state(
    state: int, command: Command, message: str
) -> None:
    with pytest.raises(FailedPrecondition) as raised:
        transition(state, command)
    assert raised.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert raised.value.message == message


def stored(state: int) -> cpb.Campaign:
    definition = campaign()
    definition.state = state
    return definition


def test_a_draft_may_change_anything() -> None:
    proposed = campaign()
    proposed.variants[0].weight, proposed.variants[1].weight, proposed.holdout_percent = 70, 30, 0
    check_update(stored(S.CAMPAIGN_STATE_DRAFT), proposed)


def test_a_running_campaign_may_change_wording_limits_and_costs() -> None:
    proposed = campaign()
    proposed.name = "Spring sale (fixed typo)"
    proposed.variants[0].contents[0].title = "Hello {{ traits.first_name }}"
    proposed.limits.lifetime_cap = 1
    proposed.costs[0].cost.nanos = 3_000_000
    check_update(stored(S.CAMPAIGN_STATE_RUNNING), proposed)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda c: c.variants[0].__setattr__("weight", 60), "variants (ids, weights or channels)"),
        (lambda c: c.__setattr__("holdout_percent", 20), "holdout_percent"),
        (lambda c: c.audience.__setattr__("segment_id", "vip"), "audience"),
        (lambda c: c.rollout.stage_percents.__setitem__(0, 10), "rollout"),
        (lambda c: c.goal.attribution_window.__setattr__("seconds", 3600), "goal"),
    ],
)
def test_a_running_campaigns_design_is_frozen(change: object, named: str) -> None:
    proposed = campaign()
    change(proposed)  # type: ignore[operator]
    with pytest.raises(FailedPrecondition, match=r"campaign is paused: its experiment design is frozen, ") as raised:
        check_update(stored(S.CAMPAIGN_STATE_PAUSED), proposed)
    assert named in raised.value.message


def test_a_final_campaign_cannot_change() -> None:
    with pytest.raises(FailedPrecondition, match="campaign is completed: it can no longer change"):
        check_update(stored(S.CAMPAIGN_STATE_COMPLETED), campaign())


def running_at(stage: int) -> cpb.Campaign:
    definition = stored(S.CAMPAIGN_STATE_RUNNING)
    definition.rollout_stage = stage
    return definition


def test_rollout_advances_one_stage_and_a_retry_changes_nothing() -> None:
    advanced = next_stage(running_at(0), expected_stage=0)
    assert (advanced.target, advanced.changed) == (1, True)
    retried = next_stage(running_at(1), expected_stage=0)
    assert (retried.target, retried.changed) == (1, False)


@pytest.mark.parametrize(
    ("definition", "expected", "message"),
    [
        (running_at(2), 2, r"rollout is at its last stage \(100%\)"),
        (running_at(2), 0, r"rollout is at stage 2 \(100%\), not 0: read the campaign again"),
        (stored(S.CAMPAIGN_STATE_DRAFT), 0, "campaign is draft: a rollout advances only while running or paused"),
    ],
)
def test_rollout_cannot_advance_past_its_end_from_a_stale_stage_or_before_launch(
    definition: cpb.Campaign, expected: int, message: str
) -> None:
    with pytest.raises(FailedPrecondition, match=message):
        next_stage(definition, expected_stage=expected)


def test_a_campaign_without_rollout_has_nothing_to_advance() -> None:
    definition = running_at(0)
    definition.ClearField("rollout")
    with pytest.raises(FailedPrecondition, match="campaign has no rollout"):
        next_stage(definition, expected_stage=0)
