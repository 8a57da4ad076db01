"""The experiment end to end: stable arms, a holdout that is measured but never messaged, a staged
rollout that only ever adds people, a guardrail that pauses a variant converting worse than the
control (an operator resumes), and a report whose figures are the domain's statistics over what
the service counted."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import facts_pb2 as fpb
from bullseye.campaign.v1 import records_pb2 as rpb
from bullseye.events.v1 import event_pb2 as ev
from bullseye_campaign.domain.assignment import Arm, assign, exposed
from bullseye_campaign.domain.stats.lift import Sample, relative_lift
from bullseye_platform.assignment import Sha256Hash
from google.type import money_pb2
from nats.aio.client import Client as NATS

from tests.campaign import definitions as d
from tests.campaign.stack import CampaignStack, Shopper, event_of, order, restart, token

C, R, S = cpb.Channel, rpb.DecisionReason, cpb.CampaignState
HASH = Sha256Hash()
EMAIL = cpb.Content(channel=C.CHANNEL_EMAIL, subject="Hi", body="Hello")


def experiment(campaign_id: str, segment: str, *, holdout: int, stages: list[int], **fields: object) -> cpb.Campaign:
    """A one-off email broadcast with variants a and b (50/50) unless `variants` says otherwise."""
    campaign = cpb.Campaign(
        campaign_id=campaign_id, name=campaign_id, audience=cpb.Audience(segment_id=segment),
        entry=cpb.Entry(broadcast=cpb.Broadcast()), re_entry=cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_ONCE_EVER),
        channels=[C.CHANNEL_EMAIL], holdout_percent=holdout,
        variants=[cpb.Variant(variant_id=v, weight=50, contents=[EMAIL]) for v in ("a", "b")],
        goal=cpb.ConversionGoal(event=cpb.EventFilter(event_type="order_completed"), attribution_window=d.hours(72)),
        rollout=cpb.Rollout(stage_percents=stages),
    )  # fmt: skip
    for name, value in fields.items():
        if name == "variants":
            del campaign.variants[:]
            campaign.variants.extend(value)  # type: ignore[arg-type]
        else:
            getattr(campaign, name).CopyFrom(value)
    return campaign


async def arms_of(stack: CampaignStack, campaign_id: str) -> dict[str, str]:
    return {r["person_id"]: rpb.Decision.FromString(r["record"]).arm for r in await stack.decisions(campaign_id)}


async def test_arms_are_the_stable_hash_and_the_holdout_is_measured_but_never_messaged(stack: CampaignStack) -> None:
    cohort = token()
    shoppers = await stack.shoppers_of(cohort, 60)
    segment = await stack.segment(cohort, 60)
    campaign = await stack.launched(experiment(f"holdout-{cohort}", segment, holdout=30, stages=[100]))
    cid = campaign.campaign_id
    await stack.decided(cid, 60)

    arms = await arms_of(stack, cid)
    expected = {s.person_id: assign(HASH, cid, s.person_id, [Arm("a", 50), Arm("b", 50)], holdout_percent=30)
                for s in shoppers}  # fmt: skip
    assert arms == expected and set(arms.values()) == {"control", "a", "b"}
    await stack.until(lambda: _messaged(stack, cid, sum(1 for a in arms.values() if a != "control")))
    got = stack.sinks.messages()
    for person, arm in arms.items():
        assert len(got.get(person, ())) == (0 if arm == "control" else 1), (person, arm)
    one = shoppers[0].person_id
    explained = await stack.api.ExplainDecision(apb.ExplainDecisionRequest(campaign_id=cid, person_id=one))
    previewed = await stack.api.Preview(apb.PreviewRequest(campaign_id=cid, person_id=one))
    assert explained.arm == previewed.arm == arms[one]
    [decision] = explained.decisions
    assert decision.reason == (R.DECISION_REASON_HOLDOUT if arms[one] == "control" else R.DECISION_REASON_UNSPECIFIED)
    report = (await stack.api.GetReport(apb.GetReportRequest(campaign_id=cid))).report
    assert {a.arm: a.audience for a in report.arms} == Counter(arms.values())
    assert next(a for a in report.arms if a.control).sent == 0
    assert not report.entering and report.undecided == 0  # everyone entered and decided: the audience is final


async def test_a_staged_rollout_exposes_its_share_and_a_later_stage_only_adds_people(stack: CampaignStack) -> None:
    cohort = token()
    shoppers = await stack.shoppers_of(cohort, 40)
    segment = await stack.segment(cohort, 40)
    campaign = await stack.launched(experiment(f"stages-{cohort}", segment, holdout=0, stages=[30, 100]))
    cid = campaign.campaign_id
    early = {s.person_id for s in shoppers if exposed(HASH, cid, s.person_id, percent=30)}
    assert 0 < len(early) < 40
    await stack.decided(cid, len(early))
    assert set(await arms_of(stack, cid)) == early

    await stack.api.AdvanceRollout(apb.AdvanceRolloutRequest(campaign_id=cid, expected_stage=0))
    await stack.decided(cid, 40)
    await stack.until(lambda: _messaged(stack, cid, 40))
    await stack.until(lambda: _state(stack, cid, S.CAMPAIGN_STATE_COMPLETED))

    got = stack.sinks.messages()
    assert [len(got.get(s.person_id, ())) for s in shoppers] == [1] * 40


async def test_a_variant_converting_far_worse_than_the_control_pauses_the_campaign_until_an_operator_resumes(
    stack: CampaignStack, nc: NATS
) -> None:
    cohort = token()
    shoppers = await stack.shoppers_of(cohort, 100)
    segment = await stack.segment(cohort, 100)
    only_a = [cpb.Variant(variant_id="a", weight=100, contents=[EMAIL])]
    definition = experiment(f"guard-{cohort}", segment, holdout=50, stages=[100], variants=only_a)
    definition.entry.broadcast.every.FromTimedelta(timedelta(days=1))  # recurring: it never completes by itself
    campaign = await stack.launched(definition)
    cid = campaign.campaign_id
    await stack.decided(cid, 100)
    arms = await arms_of(stack, cid)
    control = [s for s in shoppers if arms[s.person_id] == "control"]
    treated = [s for s in shoppers if arms[s.person_id] == "a"]

    buyers = control[: len(control) // 2] + treated[: len(treated) // 10]
    await stack.track(*(order(s, 50) for s in buyers))
    await stack.until(lambda: _state(stack, cid, S.CAMPAIGN_STATE_PAUSED))

    alerts: list[fpb.CampaignAlert] = []

    async def alerted() -> bool:
        facts = await stack.facts(nc)
        alerts[:] = [r.alert for kind, r in facts if kind == "campaign.alert" and r.alert.campaign_id == cid]
        return bool(alerts)

    await stack.until(alerted)  # the fact reaches CAMPAIGN through the outbox, right after the pause
    assert [(a.kind, a.variant_id) for a in alerts] == [(fpb.ALERT_KIND_CONVERSION_DROP, "a")]
    assert "conversion lift" in alerts[0].detail
    resumed = (await stack.api.ResumeCampaign(apb.ResumeCampaignRequest(campaign_id=cid, reason="seen"))).campaign
    assert resumed.state == S.CAMPAIGN_STATE_RUNNING
    await stack.until(lambda: _guardrail_ran_after(stack, cid, resumed.updated_at.ToDatetime()))
    still = (await stack.api.GetCampaign(apb.GetCampaignRequest(campaign_id=cid))).campaign
    assert still.state == S.CAMPAIGN_STATE_RUNNING, "muted for the stage it saw"


async def test_the_report_counts_each_arm_and_measures_uplift_and_roi(stack: CampaignStack) -> None:
    cohort = token()
    shoppers = await stack.shoppers_of(cohort, 40)
    segment = await stack.segment(cohort, 40)
    only_a = [cpb.Variant(variant_id="a", weight=100, contents=[EMAIL])]
    costs = [cpb.ChannelCost(channel=C.CHANNEL_EMAIL, cost=money_pb2.Money(currency_code="EUR", nanos=500_000_000))]
    definition = experiment(f"report-{cohort}", segment, holdout=50, stages=[100], variants=only_a)
    definition.costs.extend(costs)
    cid = (await stack.launched(definition)).campaign_id
    await stack.decided(cid, 40)
    arms = await arms_of(stack, cid)
    control = [s for s in shoppers if arms[s.person_id] == "control"]
    treated = [s for s in shoppers if arms[s.person_id] == "a"]
    await stack.until(lambda: _messaged(stack, cid, len(treated)))

    keys = {r.person_id: r.key for r in stack.sinks.received}
    opened = treated[: len(treated) // 2]
    await stack.track(*(_interacted(s, keys[s.person_id], ev.MESSAGE_INTERACTION_OPENED) for s in opened))
    buyers = control[: len(control) // 5] + treated[: len(treated) * 3 // 5]
    await stack.track(*(order(s, 100) for s in buyers))
    await stack.until(lambda: _converted(stack, cid, len(buyers)))
    await stack.until(lambda: _opened(stack, cid, len(opened)))

    report = (await stack.api.GetReport(apb.GetReportRequest(campaign_id=cid))).report
    by_arm = {a.arm: a for a in report.arms}
    c, a = by_arm["control"], by_arm["a"]
    assert (c.audience, a.audience, c.sent, a.sent) == (len(control), len(treated), 0, len(treated))
    assert (c.converted, a.converted) == (len(control) // 5, len(treated) * 3 // 5)
    assert a.opened == len(opened) and a.revenue.units == 100 * a.converted
    assert a.cost.units + a.cost.nanos / 1e9 == 0.5 * a.sent and a.click_through_rate == 0.0
    assert abs(a.roi - (100 * a.converted - 0.5 * a.sent) / (0.5 * a.sent)) < 1e-9
    [conversion, _retention] = report.uplifts
    fixed = relative_lift(Sample.proportion(c.converted, c.audience), Sample.proportion(a.converted, a.audience))
    assert conversion.computed and abs(conversion.lift - fixed.lift) < 1e-12
    assert (conversion.p_value, conversion.ci_low, conversion.ci_high) == (fixed.p_value, fixed.ci_low, fixed.ci_high)
    assert report.HasField("sample_ratio") and report.rollout_percent == 100


async def test_an_automatic_rollout_advances_once_its_stage_ran_long_enough_with_enough_people(
    stack: CampaignStack,
) -> None:
    cohort = token()
    shoppers = await stack.shoppers_of(cohort, 500)
    segment = await stack.segment(cohort, 500)
    only_a = [cpb.Variant(variant_id="a", weight=100, contents=[EMAIL])]
    definition = experiment(f"auto-{cohort}", segment, holdout=50, stages=[50, 100], variants=only_a)
    definition.rollout.advance = cpb.ROLLOUT_ADVANCE_AUTOMATIC
    definition.rollout.min_stage_duration.FromTimedelta(timedelta(hours=1))
    definition.rollout.min_arm_size = 100
    cid = (await stack.launched(definition)).campaign_id
    half = [s for s in shoppers if exposed(HASH, cid, s.person_id, percent=50)]
    await stack.decided(cid, len(half))
    arms = Counter((await arms_of(stack, cid)).values())
    assert min(arms.values()) >= 100, f"the test's cohort is large enough: {arms}"
    assert (await stack.api.GetCampaign(apb.GetCampaignRequest(campaign_id=cid))).campaign.rollout_stage == 0

    await restart(stack, CAMPAIGN_CLOCK_OFFSET="61m")  # the stage has run its hour
    try:
        await stack.decided(cid, 500)
    finally:
        await restart(stack, CAMPAIGN_CLOCK_OFFSET="0s")
    campaign = (await stack.api.GetCampaign(apb.GetCampaignRequest(campaign_id=cid))).campaign
    assert campaign.rollout_stage == 1 and campaign.state in (S.CAMPAIGN_STATE_RUNNING, S.CAMPAIGN_STATE_COMPLETED)


def _interacted(shopper: Shopper, message_id: str, interaction: int) -> ev.Event:
    return event_of(shopper, message_interacted=ev.MessageInteracted(message_id=message_id, interaction=interaction,  # type: ignore[arg-type]
                                                                     channel=ev.CONTACT_CHANNEL_EMAIL))  # fmt: skip


async def _messaged(stack: CampaignStack, campaign_id: str, wanted: int) -> bool:
    count = await stack.pool.fetchval("SELECT count(*) FROM deliveries WHERE campaign_id = $1 AND status = $2",
                                      campaign_id, rpb.DELIVERY_STATUS_SENT)  # fmt: skip
    return int(count) >= wanted


async def _state(stack: CampaignStack, campaign_id: str, state: int) -> bool:
    return await stack.pool.fetchval("SELECT state FROM campaigns WHERE campaign_id = $1", campaign_id) == state


async def _converted(stack: CampaignStack, campaign_id: str, wanted: int) -> bool:
    return await stack.pool.fetchval("SELECT count(*) FROM conversions WHERE campaign_id = $1", campaign_id) == wanted


async def _opened(stack: CampaignStack, campaign_id: str, wanted: int) -> bool:
    count = await stack.pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE campaign_id = $1 AND opened_at IS NOT NULL", campaign_id
    )
    return int(count) == wanted


async def _guardrail_ran_after(stack: CampaignStack, campaign_id: str, resumed_at: datetime) -> bool:
    """Whether the guardrail looked again since the resume (its next look is a poll after each)."""
    due = await stack.pool.fetchval(
        "SELECT due_at FROM scheduled_jobs WHERE queue = 'campaign-guardrails' AND key = $1", campaign_id
    )
    return due is None or due.replace(tzinfo=None) > resumed_at + timedelta(seconds=2)
