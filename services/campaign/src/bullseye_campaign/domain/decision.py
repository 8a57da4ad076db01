"""The decision at the last moment: send, suppress (with its reason) or hold, with every check.

The service gathers what is true for the person right now, inside the transaction that
records the send (state, audience, exits, re-entry, rollout, arm, and per channel consent,
contact and caps), and this function turns it into one decision. Checks run in a fixed
order and the first that fails decides, so the recorded reason is the most fundamental one
(an exited person is "exited", not also "capped"). Quiet hours come last: a message that
could leave is held until the window ends, never dropped, and decided again then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import records_pb2 as rpb

from bullseye_campaign.domain import names
from bullseye_campaign.domain.assignment import CONTROL


@dataclass(frozen=True)
class ChannelFacts:
    """One campaign channel for this person: consent, a contact, and the cap with no room."""

    channel: int
    consent: bool
    contact: bool
    capped: str | None = None  # the full cap's description


@dataclass(frozen=True, kw_only=True)
class Situation:
    state: int
    in_audience: bool
    exit_reason: str | None
    re_entry_refusal: str | None
    in_rollout: bool
    rollout_percent: int
    arm: str
    channels: Sequence[ChannelFacts]  # in the campaign's order of preference
    selection: int
    release_at: datetime | None  # quiet hours: when a held message may leave


@dataclass(frozen=True)
class Verdict:
    outcome: int
    reason: int
    detail: str
    channels: tuple[int, ...]
    held_until: datetime | None
    checks: tuple[rpb.CheckVerdict, ...]


def decide(situation: Situation) -> Verdict:
    checks: list[rpb.CheckVerdict] = []
    for check, failure, detail in _gates(situation):
        checks.append(rpb.CheckVerdict(check=check, passed=failure is None, detail=detail))  # type: ignore[arg-type]
        if failure is not None:
            return Verdict(rpb.DECISION_OUTCOME_SUPPRESSED, failure, detail, (), None, tuple(checks))
    channels, reason, detail = _reachable(situation)
    checks.extend(_channel_checks(situation))
    if not channels:
        return Verdict(rpb.DECISION_OUTCOME_SUPPRESSED, reason, detail, (), None, tuple(checks))
    release = situation.release_at
    quiet = "quiet hours: held until " + release.isoformat() if release else "outside quiet hours"
    checks.append(rpb.CheckVerdict(check=rpb.CHECK_QUIET_HOURS, passed=release is None, detail=quiet))
    if release is not None:
        return Verdict(rpb.DECISION_OUTCOME_HELD, rpb.DECISION_REASON_QUIET_HOURS, quiet, channels, release,
                       tuple(checks))  # fmt: skip
    return Verdict(rpb.DECISION_OUTCOME_SENT, rpb.DECISION_REASON_UNSPECIFIED, "", channels, None, tuple(checks))


def _gates(s: Situation) -> list[tuple[int, int | None, str]]:
    """(check, the reason it fails or None, detail), in the order they are applied."""
    running = s.state == cpb.CAMPAIGN_STATE_RUNNING
    state = names.state(s.state)
    return [
        (rpb.CHECK_CAMPAIGN_STATE, None if running else rpb.DECISION_REASON_CAMPAIGN_NOT_RUNNING,
         f"campaign is {state}"),
        (rpb.CHECK_AUDIENCE, None if s.in_audience else rpb.DECISION_REASON_NOT_IN_AUDIENCE,
         "in the audience" if s.in_audience else "not in the audience (or in an excluded segment)"),
        (rpb.CHECK_EXIT, rpb.DECISION_REASON_EXITED if s.exit_reason else None, s.exit_reason or "not exited"),
        (rpb.CHECK_RE_ENTRY, rpb.DECISION_REASON_RE_ENTRY if s.re_entry_refusal else None,
         s.re_entry_refusal or "may enter"),
        (rpb.CHECK_ROLLOUT, None if s.in_rollout else rpb.DECISION_REASON_NOT_IN_ROLLOUT,
         f"{'inside' if s.in_rollout else 'outside'} the {s.rollout_percent}% rollout stage"),
        (rpb.CHECK_ASSIGNMENT, rpb.DECISION_REASON_HOLDOUT if s.arm == CONTROL else None, f"arm: {s.arm}"),
    ]  # fmt: skip


def _reachable(s: Situation) -> tuple[tuple[int, ...], int, str]:
    """The channels to send on, or the reason there is none (the furthest any channel got)."""
    consented = [c for c in s.channels if c.consent]
    contactable = [c for c in consented if c.contact]
    open_ = tuple(c.channel for c in contactable if c.capped is None)
    if open_:
        return (open_[:1] if s.selection != cpb.CHANNEL_SELECTION_ALL_REACHABLE else open_), 0, ""
    if contactable:
        return (), rpb.DECISION_REASON_CAPPED, "; ".join(c.capped or "" for c in contactable)
    if consented:
        return (), rpb.DECISION_REASON_NO_CONTACT, "no contact on any consented channel"
    return (), rpb.DECISION_REASON_NO_CONSENT, "no marketing consent on any campaign channel"


def _channel_checks(s: Situation) -> list[rpb.CheckVerdict]:
    verdicts = []
    for c in s.channels:
        name = names.channel(c.channel)
        verdicts.append(_verdict(rpb.CHECK_CONSENT, c.consent, f"{name}: {'granted' if c.consent else 'not granted'}"))
        if c.consent:
            verdicts.append(
                _verdict(rpb.CHECK_CONTACT, c.contact, f"{name}: {'reachable' if c.contact else 'no contact'}")
            )
        if c.consent and c.contact:
            verdicts.append(_verdict(rpb.CHECK_CAPS, c.capped is None, f"{name}: {c.capped or 'room left'}"))
    return verdicts


def _verdict(check: int, passed: bool, detail: str) -> rpb.CheckVerdict:
    return rpb.CheckVerdict(check=check, passed=passed, detail=detail)  # type: ignore[arg-type]
