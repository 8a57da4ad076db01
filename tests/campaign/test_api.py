"""CampaignService's contract through gRPC: definitions kept by version, lifecycle commands and
their precise refusals, Preview with every check's verdict, and the reads of what was decided."""

from __future__ import annotations

import grpc
import pytest
from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.campaign.v1 import records_pb2 as rpb
from bullseye.profile.v1 import segments_pb2 as spb

from tests.campaign import definitions as d
from tests.campaign.stack import CampaignStack, token
from tests.ingestion import helpers as h

C, S = cpb.Channel, cpb.CampaignState
Check = rpb.Check


def email_only(campaign_id: str, segment: str) -> cpb.Campaign:
    """The shared complete campaign, on email only and on `segment`."""
    campaign = d.campaign()
    campaign.campaign_id, campaign.audience.segment_id = campaign_id, segment
    del campaign.audience.exclude_segment_ids[:]
    del campaign.channels[:]
    campaign.channels.append(C.CHANNEL_EMAIL)
    for variant in campaign.variants:
        del variant.contents[0]  # the push content (its body shows items)
    del campaign.limits.send_rates[:]
    return campaign


async def test_a_draft_is_stored_and_every_update_adds_a_version(stack: CampaignStack) -> None:
    created = (await stack.api.CreateCampaign(apb.CreateCampaignRequest(campaign=cpb.Campaign(name="Later")))).campaign
    assert created.campaign_id.startswith("c-") and (created.version, created.state) == (1, S.CAMPAIGN_STATE_DRAFT)

    changed = cpb.Campaign(campaign_id=created.campaign_id, name="Later, renamed", version=41)
    update = apb.UpdateCampaignRequest(campaign=changed, expected_version=1)
    updated = (await stack.api.UpdateCampaign(update)).campaign
    assert (updated.name, updated.version, updated.created_at) == ("Later, renamed", 2, created.created_at)

    stale = await h.failure(stack.api.UpdateCampaign(update))
    assert stale.code() == grpc.StatusCode.FAILED_PRECONDITION and "at version 2, not 1" in stale.details()
    got = (await stack.api.GetCampaign(apb.GetCampaignRequest(campaign_id=created.campaign_id))).campaign
    assert got == updated


async def test_campaigns_are_listed_by_id_in_pages_and_by_state(stack: CampaignStack) -> None:
    prefix = f"list-{token()}"
    for n in range(3):
        await stack.api.CreateCampaign(apb.CreateCampaignRequest(campaign=cpb.Campaign(campaign_id=f"{prefix}-{n}",
                                                                                      name="x")))  # fmt: skip
    first = await stack.api.ListCampaigns(apb.ListCampaignsRequest(page_size=2))
    listed = [c.campaign_id for c in first.campaigns]
    page = first
    while page.next_page_token:
        page = await stack.api.ListCampaigns(apb.ListCampaignsRequest(page_size=2, page_token=page.next_page_token))
        listed += [c.campaign_id for c in page.campaigns]
    assert listed == sorted(listed) and {f"{prefix}-{n}" for n in range(3)} <= set(listed)
    running = await stack.api.ListCampaigns(apb.ListCampaignsRequest(states=[S.CAMPAIGN_STATE_RUNNING]))
    assert all(c.state == S.CAMPAIGN_STATE_RUNNING for c in running.campaigns)


async def test_listing_by_a_state_the_contract_does_not_know_names_it(stack: CampaignStack) -> None:
    request = apb.ListCampaignsRequest(states=[S.CAMPAIGN_STATE_RUNNING, 40_000])

    error = await h.failure(stack.api.ListCampaigns(request))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert h.field_violations(error)["states[1]"].startswith("unknown state 40000: one of CAMPAIGN_STATE_DRAFT")


async def test_an_invalid_template_is_refused_with_its_field_line_and_column(stack: CampaignStack) -> None:
    broken = email_only(f"broken-{token()}", "anything")
    broken.variants[1].contents[0].body = "Hello\n{{ traits.first_name "

    error = await h.failure(stack.api.CreateCampaign(apb.CreateCampaignRequest(campaign=broken)))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    [(field, problem)] = h.field_violations(error).items()
    assert field == "campaign.variants[1].contents[0].body" and problem.startswith("line 2, column")


async def test_an_unknown_segment_is_not_found_naming_the_field(stack: CampaignStack) -> None:
    error = await h.failure(stack.api.CreateCampaign(apb.CreateCampaignRequest(
        campaign=email_only(f"nowhere-{token()}", "no-such-segment"))))  # fmt: skip

    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "campaign.audience.segment_id: profile has no segment 'no-such-segment'"
    assert h.reason(error) == "SEGMENT_NOT_FOUND"


async def test_an_impossible_rollout_order_is_refused(stack: CampaignStack) -> None:
    backwards = cpb.Campaign(name="x", rollout=cpb.Rollout(stage_percents=[20, 5, 100]))

    error = await h.failure(stack.api.CreateCampaign(apb.CreateCampaignRequest(campaign=backwards)))

    assert h.field_violations(error) == {"campaign.rollout.stage_percents[1]": "stages only grow: 5 after 20"}


async def test_launching_an_incomplete_draft_names_what_is_missing(stack: CampaignStack) -> None:
    draft = (await stack.api.CreateCampaign(apb.CreateCampaignRequest(campaign=cpb.Campaign(name="x")))).campaign

    error = await h.failure(stack.api.LaunchCampaign(apb.LaunchCampaignRequest(campaign_id=draft.campaign_id,
                                                                               expected_version=1)))  # fmt: skip

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert h.field_violations(error)["campaign.channels"].startswith("required to launch: at least one channel")


async def test_a_template_with_items_cannot_launch_without_the_recommendation_service(stack: CampaignStack) -> None:
    segment = await _segment(stack)
    campaign = email_only(f"items-{token()}", segment)
    campaign.variants[0].contents[0].body = "{{ items[0].title }}"
    created = (await stack.api.CreateCampaign(apb.CreateCampaignRequest(campaign=campaign))).campaign

    error = await h.failure(stack.api.LaunchCampaign(apb.LaunchCampaignRequest(campaign_id=created.campaign_id,
                                                                               expected_version=1)))  # fmt: skip

    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "CAMPAIGN_RECOMMENDATION_ADDRESS" in error.details()


async def test_lifecycle_commands_move_states_repeat_harmlessly_and_refuse_what_the_state_forbids(
    stack: CampaignStack,
) -> None:
    campaign = await stack.launched(email_only(f"life-{token()}", await _segment(stack)))
    cid = campaign.campaign_id
    assert campaign.state == S.CAMPAIGN_STATE_RUNNING and campaign.HasField("launched_at")

    for _ in range(2):  # a repeated pause changes nothing
        paused = (await stack.api.PauseCampaign(apb.PauseCampaignRequest(campaign_id=cid, reason="check"))).campaign
        assert paused.state == S.CAMPAIGN_STATE_PAUSED
    resumed = (await stack.api.ResumeCampaign(apb.ResumeCampaignRequest(campaign_id=cid))).campaign
    assert resumed.state == S.CAMPAIGN_STATE_RUNNING
    frozen = cpb.Campaign()
    frozen.CopyFrom(resumed)
    frozen.holdout_percent = 20
    update = apb.UpdateCampaignRequest(campaign=frozen, expected_version=resumed.version)
    error = await h.failure(stack.api.UpdateCampaign(update))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "holdout_percent cannot change" in error.details()
    await stack.api.CancelCampaign(apb.CancelCampaignRequest(campaign_id=cid, reason="done"))
    error = await h.failure(stack.api.ResumeCampaign(apb.ResumeCampaignRequest(campaign_id=cid)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "campaign is cancelled" in error.details()


async def test_a_rollout_advances_one_stage_at_a_time_and_a_retry_changes_nothing(stack: CampaignStack) -> None:
    campaign = await stack.launched(email_only(f"stages-{token()}", await _segment(stack)))
    cid = campaign.campaign_id

    moved = (await stack.api.AdvanceRollout(apb.AdvanceRolloutRequest(campaign_id=cid, expected_stage=0))).campaign
    again = (await stack.api.AdvanceRollout(apb.AdvanceRolloutRequest(campaign_id=cid, expected_stage=0))).campaign
    stale = await h.failure(stack.api.AdvanceRollout(apb.AdvanceRolloutRequest(campaign_id=cid, expected_stage=3)))

    assert moved.rollout_stage == again.rollout_stage == 1
    assert stale.code() == grpc.StatusCode.FAILED_PRECONDITION and "not 3" in stale.details()


async def test_preview_renders_the_message_and_gives_every_checks_verdict(stack: CampaignStack) -> None:
    cohort = token()
    [shopper] = await stack.shoppers_of(cohort, 1)
    segment = await stack.segment(cohort, 1)
    campaign = email_only(f"preview-{cohort}", segment)
    campaign.holdout_percent, campaign.rollout.stage_percents[:] = 0, [100]
    campaign.limits.ClearField("quiet_hours")
    created = await stack.launched(campaign)

    preview = await stack.api.Preview(apb.PreviewRequest(campaign_id=created.campaign_id, person_id=shopper.person_id))

    assert preview.arm in ("a", "b")
    [message] = preview.messages
    assert (message.channel, message.subject, message.body) == (C.CHANNEL_EMAIL, "For you", "Dear Sam")
    assert preview.decision.outcome == rpb.DECISION_OUTCOME_SENT and preview.decision.channel == C.CHANNEL_EMAIL
    checks = {(v.check, v.passed) for v in preview.decision.checks}
    assert {(Check.CHECK_AUDIENCE, True), (Check.CHECK_CONSENT, True), (Check.CHECK_CONTACT, True),
            (Check.CHECK_CAPS, True), (Check.CHECK_QUIET_HOURS, True)} <= checks  # fmt: skip
    assert await stack.pool.fetchval("SELECT count(*) FROM decisions WHERE campaign_id = $1", created.campaign_id) == 0


async def test_preview_and_explain_refuse_unknown_campaigns_and_persons(stack: CampaignStack) -> None:
    missing = await h.failure(stack.api.Preview(apb.PreviewRequest(campaign_id="no-such", person_id="p")))
    assert missing.code() == grpc.StatusCode.NOT_FOUND and "no campaign 'no-such'" in missing.details()
    campaign = await stack.launched(email_only(f"who-{token()}", await _segment(stack)))
    nobody = await h.failure(stack.api.Preview(apb.PreviewRequest(campaign_id=campaign.campaign_id,
                                                                  person_id="p-nobody")))  # fmt: skip
    assert nobody.code() == grpc.StatusCode.NOT_FOUND and "p-nobody" in nobody.details()
    explained = await stack.api.ExplainDecision(apb.ExplainDecisionRequest(campaign_id=campaign.campaign_id,
                                                                           person_id="p-nobody"))  # fmt: skip
    assert list(explained.decisions) == [] and explained.arm in ("control", "a", "b")


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (apb.ListDeliveriesRequest(), "subject"),
        (apb.ListDeliveriesRequest(person_id="p", page_size=501), "page_size"),
        (apb.ListDeliveriesRequest(person_id="p", page_token="garbage"), "page_token"),
    ],
)
async def test_list_deliveries_names_what_is_wrong(
    stack: CampaignStack, request_: apb.ListDeliveriesRequest, field: str
) -> None:
    error = await h.failure(stack.api.ListDeliveries(request_))

    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and list(h.field_violations(error)) == [field]


async def _segment(stack: CampaignStack) -> str:
    """A segment that exists (its members do not matter here)."""
    segment_id = f"any-{token()}"
    rule = spb.Rule(exists=spb.Exists(field="traits.city"))
    segment = spb.Segment(segment_id=segment_id, name="x", rule=rule)
    await stack.profile.api.CreateSegment(spb.CreateSegmentRequest(segment=segment))
    return segment_id
