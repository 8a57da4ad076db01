"""The consent fold: last statement wins per purpose and channel, in whatever order they come."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from bullseye.events.v1 import event_pb2 as ev
from bullseye_platform.consent import ConsentState, Statement, fold

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MARKETING, ANALYTICS = ev.CONSENT_PURPOSE_MARKETING, ev.CONSENT_PURPOSE_ANALYTICS


def said(minutes: int, *, granted: bool, channel: int = ev.CONTACT_CHANNEL_EMAIL, purpose: int = MARKETING,
         event_id: str = "") -> Statement:  # fmt: skip
    return Statement(purpose, channel, granted, f"form-{minutes}", T0 + timedelta(minutes=minutes),
                     event_id or f"e{minutes}")  # fmt: skip


def test_nothing_said_allows_nothing() -> None:
    assert not ConsentState().allows("marketing", "email")
    assert ConsentState().choice("marketing", "email") is None


def test_the_latest_statement_wins_whatever_the_order_of_arrival() -> None:
    statements = [said(1, granted=True), said(5, granted=False), said(3, granted=True)]
    results = {tuple(fold(order)) for order in itertools.permutations(statements)}
    [only] = results
    assert dict(only)[("marketing", "email")].granted is False
    assert dict(only)[("marketing", "email")].source == "form-5"


def test_a_statement_for_all_channels_sets_each_and_a_later_one_for_one_channel_overrides_it() -> None:
    state = fold([said(1, granted=True, channel=ev.CONTACT_CHANNEL_ALL), said(2, granted=False)])
    assert {channel: state.allows("marketing", channel) for channel in ("email", "sms", "push", "in_app")} == {
        "email": False, "sms": True, "push": True, "in_app": True,
    }  # fmt: skip
    unspecified = fold([said(1, granted=True, channel=ev.CONTACT_CHANNEL_UNSPECIFIED)])
    assert unspecified.allows("marketing", "push")


def test_purposes_are_kept_apart_and_an_unspecified_purpose_says_nothing() -> None:
    state = fold([said(1, granted=True, purpose=ANALYTICS), said(2, granted=True, purpose=0)])
    assert state.allows("analytics", "email") and not state.allows("marketing", "email")
    assert len(dict(state)) == 1


def test_statements_at_the_same_instant_are_decided_by_event_id_in_any_order() -> None:
    tie = [said(1, granted=True, event_id="evt-b"), said(1, granted=False, event_id="evt-a")]
    assert fold(tie).allows("marketing", "email") and fold(reversed(tie)).allows("marketing", "email")


def test_folding_returns_a_new_state_and_leaves_the_old_one_as_it_was() -> None:
    before = fold([said(1, granted=True)])
    after = before.with_statement(said(2, granted=False))
    assert before.allows("marketing", "email") and not after.allows("marketing", "email")
