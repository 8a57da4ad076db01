"""The last-moment decision: the most fundamental reason not to send, or held, or sent."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import records_pb2 as rpb
from bullseye_campaign.domain.decision import ChannelFacts, Situation, decide

C, R, Out = cpb.Channel, rpb.DecisionReason, rpb.DecisionOutcome
PUSH, EMAIL = ChannelFacts(C.CHANNEL_PUSH, True, True), ChannelFacts(C.CHANNEL_EMAIL, True, True)
SENDABLE = Situation(
    state=cpb.CAMPAIGN_STATE_RUNNING, in_audience=True, exit_reason=None, re_entry_refusal=None, in_rollout=True,
    rollout_percent=20, arm="a", channels=[PUSH, EMAIL], selection=cpb.CHANNEL_SELECTION_FIRST_REACHABLE,
    release_at=None,
)  # fmt: skip


def test_a_sendable_person_gets_the_first_reachable_channel() -> None:
    verdict = decide(SENDABLE)
    assert (verdict.outcome, verdict.channels) == (Out.DECISION_OUTCOME_SENT, (C.CHANNEL_PUSH,))
    assert all(check.passed for check in verdict.checks)
    assert [c.check for c in verdict.checks][-1] == rpb.CHECK_QUIET_HOURS


def test_all_reachable_sends_on_every_open_channel() -> None:
    verdict = decide(dataclasses.replace(SENDABLE, selection=cpb.CHANNEL_SELECTION_ALL_REACHABLE))
    assert verdict.channels == (C.CHANNEL_PUSH, C.CHANNEL_EMAIL)


def test_a_capped_channel_falls_back_to_the_next() -> None:
    capped_push = dataclasses.replace(PUSH, capped="cap PUSH <= 3 per 1 calendar day(s)")
    verdict = decide(dataclasses.replace(SENDABLE, channels=[capped_push, EMAIL]))
    assert verdict.channels == (C.CHANNEL_EMAIL,)


@pytest.mark.parametrize(
    ("change", "reason", "detail"),
    [
        ({"state": cpb.CAMPAIGN_STATE_PAUSED}, R.DECISION_REASON_CAMPAIGN_NOT_RUNNING, "campaign is paused"),
        ({"in_audience": False, "exit_reason": "converted"}, R.DECISION_REASON_NOT_IN_AUDIENCE,
         "not in the audience (or in an excluded segment)"),
        ({"exit_reason": "converted", "arm": "control"}, R.DECISION_REASON_EXITED, "converted"),
        ({"re_entry_refusal": "entered before: once ever"}, R.DECISION_REASON_RE_ENTRY, "entered before: once ever"),
        ({"in_rollout": False}, R.DECISION_REASON_NOT_IN_ROLLOUT, "outside the 20% rollout stage"),
        ({"arm": "control"}, R.DECISION_REASON_HOLDOUT, "arm: control"),
        ({"channels": [ChannelFacts(C.CHANNEL_PUSH, False, True)]}, R.DECISION_REASON_NO_CONSENT,
         "no marketing consent on any campaign channel"),
        ({"channels": [ChannelFacts(C.CHANNEL_PUSH, False, True), ChannelFacts(C.CHANNEL_EMAIL, True, False)]},
         R.DECISION_REASON_NO_CONTACT, "no contact on any consented channel"),
        ({"channels": [ChannelFacts(C.CHANNEL_PUSH, True, True, capped="lifetime cap 1 per person: 1 sent")]},
         R.DECISION_REASON_CAPPED, "lifetime cap 1 per person: 1 sent"),
    ],
)  # fmt: skip
def test_the_first_failing_check_decides_and_is_recorded(change: dict[str, object], reason: int, detail: str) -> None:
    verdict = decide(dataclasses.replace(SENDABLE, **change))  # type: ignore[arg-type]
    assert (verdict.outcome, verdict.reason, verdict.detail) == (Out.DECISION_OUTCOME_SUPPRESSED, reason, detail)
    assert verdict.channels == ()
    assert [check.passed for check in verdict.checks].count(False) >= 1


def test_the_holdout_is_never_messaged_even_when_everything_else_passes() -> None:
    verdict = decide(dataclasses.replace(SENDABLE, arm="control"))
    assert verdict.reason == R.DECISION_REASON_HOLDOUT and not verdict.channels


def test_quiet_hours_hold_a_sendable_message_until_the_window_ends() -> None:
    release = datetime(2026, 1, 16, 7, tzinfo=UTC)
    verdict = decide(dataclasses.replace(SENDABLE, release_at=release))
    assert (verdict.outcome, verdict.reason, verdict.held_until) == (
        Out.DECISION_OUTCOME_HELD, R.DECISION_REASON_QUIET_HOURS, release)  # fmt: skip
    assert verdict.channels == (C.CHANNEL_PUSH,)
    assert verdict.detail == "quiet hours: held until 2026-01-16T07:00:00+00:00"


def test_quiet_hours_do_not_hold_what_would_not_be_sent() -> None:
    verdict = decide(dataclasses.replace(SENDABLE, arm="control", release_at=datetime(2026, 1, 16, tzinfo=UTC)))
    assert verdict.outcome == Out.DECISION_OUTCOME_SUPPRESSED


def test_each_channel_check_is_explained() -> None:
    channels = [ChannelFacts(C.CHANNEL_SMS, False, True), ChannelFacts(C.CHANNEL_EMAIL, True, True, capped="cap x")]
    details = [c.detail for c in decide(dataclasses.replace(SENDABLE, channels=channels)).checks if c.check in
               (rpb.CHECK_CONSENT, rpb.CHECK_CONTACT, rpb.CHECK_CAPS)]  # fmt: skip
    assert details == ["sms: not granted", "email: granted", "email: reachable", "email: cap x"]
