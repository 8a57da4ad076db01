"""One person's situation for one campaign and trigger, from a snapshot: the input of `decide`.

Shared by the send batch and Preview, so that what Preview shows is what sending decides.
Consent is per channel for marketing; a webhook acts toward the person on the merchant's
side, so it needs marketing consent on at least one channel (definition.proto). A channel is
reachable with an address (email, phone), an app device (push, in-app) or always (webhook).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye_platform.consent import CHANNELS, ConsentState

from bullseye_campaign.adapters.identity_client import Contacts
from bullseye_campaign.delivery.snapshot import Snapshot
from bullseye_campaign.domain import caps, journeys, localtime, quiet_hours
from bullseye_campaign.domain.assignment import Arm, StableHash, assign, exposed
from bullseye_campaign.domain.decision import ChannelFacts, Situation
from bullseye_campaign.domain.keys import SendKey

MARKETING = "marketing"
CONSENT_CHANNEL: dict[int, str] = {
    cpb.CHANNEL_PUSH: "push",
    cpb.CHANNEL_SMS: "sms",
    cpb.CHANNEL_EMAIL: "email",
    cpb.CHANNEL_IN_APP: "in_app",
}


def consented(state: ConsentState | None, channel: int) -> bool:
    if state is None:
        return False
    if channel == cpb.CHANNEL_WEBHOOK:
        return any(state.allows(MARKETING, name) for name in CHANNELS.values())
    return state.allows(MARKETING, CONSENT_CHANNEL[channel])


def reachable(contacts: Contacts | None, channel: int) -> bool:
    if channel == cpb.CHANNEL_WEBHOOK:
        return True
    if contacts is None:
        return False
    if channel == cpb.CHANNEL_EMAIL:
        return bool(contacts.email)
    if channel == cpb.CHANNEL_SMS:
        return bool(contacts.phone)
    return bool(contacts.device_ids)  # push and in-app go to the person's app


def arm_of(hasher: StableHash, campaign: cpb.Campaign, person_id: str, snapshot: Snapshot) -> str:
    """The person's arm: the one recorded at their first entry, else the stable hash's."""
    known = snapshot.participants.get((campaign.campaign_id, person_id))
    if known is not None:
        return known.arm
    arms = [Arm(v.variant_id, v.weight) for v in campaign.variants]
    return assign(hasher, campaign.campaign_id, person_id, arms, holdout_percent=campaign.holdout_percent)


def zone(campaign: cpb.Campaign, person_id: str, snapshot: Snapshot) -> ZoneInfo:
    return localtime.zone(snapshot.zones.get(person_id, ""), campaign.limits.default_time_zone)


def rollout_percent(campaign: cpb.Campaign) -> int:
    stages = list(campaign.rollout.stage_percents)
    return stages[campaign.rollout_stage] if stages else 100


def situation(
    hasher: StableHash, campaign: cpb.Campaign, key: SendKey, triggered_at: datetime, snapshot: Snapshot
) -> Situation:
    """Everything `decide` weighs for this send now."""
    person, now = key.person_id, snapshot.now
    audience = campaign.audience.segment_id or campaign.audience.owned_segment_id
    excluded = any((s, person) in snapshot.members for s in campaign.audience.exclude_segment_ids)
    in_audience = (audience, person) in snapshot.members and not excluded
    mark = snapshot.exits.get((campaign.campaign_id, person))
    after_trigger = mark is not None and triggered_at < mark.exited_at <= now
    standing = journeys.Standing(
        in_audience=in_audience, in_excluded_segment=excluded,
        converted=after_trigger and mark is not None and mark.reason == "converted",
        exit_event=after_trigger and mark is not None and mark.reason != "converted",
        campaign_ended=campaign.state == cpb.CAMPAIGN_STATE_COMPLETED,
    )  # fmt: skip
    previous = snapshot.participants.get((campaign.campaign_id, person))
    tz = zone(campaign, person, snapshot)
    percent = rollout_percent(campaign)
    return Situation(
        state=campaign.state, in_audience=in_audience, exit_reason=journeys.exit_reason(campaign.exit, standing),
        re_entry_refusal=journeys.re_entry_refusal(
            campaign.re_entry, last_entry_at=previous.last_entered_at if previous else None, now=now),
        in_rollout=exposed(hasher, campaign.campaign_id, person, percent=percent), rollout_percent=percent,
        arm=arm_of(hasher, campaign, person, snapshot),
        channels=[_channel(campaign, person, channel, tz, snapshot) for channel in campaign.channels],
        selection=campaign.channel_selection,
        release_at=quiet_hours.release_time(campaign.limits.quiet_hours, now, tz)
        if campaign.limits.HasField("quiet_hours") else None,
    )  # fmt: skip


def _channel(campaign: cpb.Campaign, person: str, channel: int, tz: ZoneInfo, snapshot: Snapshot) -> ChannelFacts:
    full = caps.full_cap(campaign.limits, snapshot.sends.get(person, ()), campaign_id=campaign.campaign_id,
                         channel=channel, now=snapshot.now, tz=tz)  # fmt: skip
    return ChannelFacts(
        channel=channel, consent=consented(snapshot.consent.get(person), channel),
        contact=reachable(snapshot.contacts.get(person), channel), capped=full.detail if full else None,
    )  # fmt: skip


def room(campaign: cpb.Campaign, person: str, channel: int, snapshot: Snapshot) -> bool:
    """Whether a cap still has room for `channel` (after this batch's reservations)."""
    tz = zone(campaign, person, snapshot)
    return _channel(campaign, person, channel, tz, snapshot).capped is None
