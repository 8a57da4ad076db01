"""Definition checks: every problem at its field path, with a message that says what to fix."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import grpc
import pytest
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.profile.v1 import segments_pb2 as spb
from bullseye_campaign.domain.templates import Templates
from bullseye_campaign.domain.validation import check_campaign
from bullseye_platform.grpc.errors import InvalidArgument

from tests.campaign.definitions import campaign, hours, order_over, variant

C = cpb.Channel
TEMPLATES = Templates()


def problems(definition: cpb.Campaign, *, launch: bool = True) -> dict[str, str]:
    found = check_campaign(definition, templates=TEMPLATES, launch=launch, now=datetime(2026, 3, 1, tzinfo=UTC))
    return {v.field: v.description for v in found.items}


def broken(change: Callable[[cpb.Campaign], object]) -> cpb.Campaign:
    definition = campaign()
    change(definition)
    return definition


def test_a_complete_campaign_has_no_problem() -> None:
    assert problems(campaign()) == {}


def test_a_draft_needs_only_a_name() -> None:
    assert problems(cpb.Campaign(name="Later"), launch=False) == {}


def test_launching_an_empty_campaign_names_everything_missing() -> None:
    found = problems(cpb.Campaign(name="Later"))
    assert set(found) == {
        "campaign.audience.source",
        "campaign.entry.kind",
        "campaign.re_entry.policy",
        "campaign.channels",
        "campaign.variants",
        "campaign.goal.event",
        "campaign.goal.attribution_window",
    }
    assert found["campaign.channels"].startswith("required to launch: at least one channel")


def test_a_channel_the_contract_does_not_know_is_named_where_it_stands() -> None:
    definition = broken(lambda c: c.channels.append(-1))
    definition.variants[0].contents.add(channel=9)  # type: ignore[arg-type]

    found = problems(definition)

    assert found["campaign.channels[2]"].startswith("channel -1 (not in the contract)")
    assert found["campaign.variants[0].contents[2].channel"] == (
        "channel 9 (not in the contract) is not one of the campaign's channels"
    )


def test_launching_without_a_channel_is_refused() -> None:
    definition = broken(lambda c: c.ClearField("channels"))
    found = problems(definition)
    assert "campaign.channels" in found
    # The contents now name channels the campaign does not have: said where they are.
    assert found["campaign.variants[0].contents[0].channel"] == "CHANNEL_PUSH is not one of the campaign's channels"


def test_weights_that_do_not_sum_to_100_are_refused() -> None:
    found = problems(broken(lambda c: c.variants[1].__setattr__("weight", 40)))
    assert found == {"campaign.variants": "weights must sum to 100, got 50 + 40 = 90"}


def test_a_weight_out_of_range_is_named_by_its_path() -> None:
    definition = broken(lambda c: c.variants.extend([variant("c", 0)]))
    assert problems(definition)["campaign.variants[2].weight"].startswith("1 to 100")


def test_variant_ids_are_unique_and_control_is_reserved() -> None:
    definition = broken(lambda c: c.variants[1].__setattr__("variant_id", "a"))
    assert problems(definition) == {"campaign.variants[1].variant_id": "'a' is used by another variant"}
    definition = broken(lambda c: c.variants[0].__setattr__("variant_id", "control"))
    assert problems(definition) == {"campaign.variants[0].variant_id": "'control' is reserved for the holdout"}


def test_an_invalid_template_is_refused_with_its_line_and_column() -> None:
    definition = broken(lambda c: c.variants[1].contents[0].__setattr__("body", "Hi\n{{ traits.first_name | }}"))
    assert problems(definition) == {
        "campaign.variants[1].contents[0].body": "line 2, column 24: expected word, found end of expression"
    }


def test_each_channel_needs_its_own_template_fields() -> None:
    def change(c: cpb.Campaign) -> None:
        c.variants[0].contents[1].ClearField("subject")
        c.variants[0].contents[0].subject = "push has no subject"

    assert problems(broken(change)) == {
        "campaign.variants[0].contents[0].subject": "not used by CHANNEL_PUSH: leave it empty",
        "campaign.variants[0].contents[1].subject": "required for CHANNEL_EMAIL",
    }


def test_every_channel_needs_content_in_every_variant_to_launch() -> None:
    definition = broken(lambda c: c.variants[1].contents.pop())
    assert problems(definition) == {"campaign.variants[1].contents": "required to launch: a content for CHANNEL_EMAIL"}
    assert problems(definition, launch=False) == {}


@pytest.mark.parametrize(
    ("stages", "field", "message"),
    [
        ([5, 20, 20, 100], "stage_percents[2]", "stages only grow: 20 after 20"),
        ([50, 20, 100], "stage_percents[1]", "stages only grow: 20 after 50"),
        ([5, 120], "stage_percents[1]", "1 to 100 percent, got 120"),
        ([5, 20], "stage_percents[1]", "the last stage is 100 (the whole audience), got 20"),
        ([], "stage_percents", "1 to 10 stages, e.g. [5, 20, 100]"),
    ],
)
def test_an_impossible_rollout_order_is_refused(stages: list[int], field: str, message: str) -> None:
    def change(c: cpb.Campaign) -> None:
        c.rollout.ClearField("stage_percents")
        c.rollout.stage_percents.extend(stages)

    assert problems(broken(change)).get(f"campaign.rollout.{field}") == message


def test_automatic_rollout_needs_its_thresholds_and_a_holdout() -> None:
    def change(c: cpb.Campaign) -> None:
        c.rollout.advance = cpb.ROLLOUT_ADVANCE_AUTOMATIC
        c.holdout_percent = 0

    found = problems(broken(change))
    assert set(found) == {
        "campaign.rollout.min_stage_duration",
        "campaign.rollout.min_arm_size",
        "campaign.rollout.advance",
    }
    assert "needs a holdout" in found["campaign.rollout.advance"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda c: c.goal.attribution_window.__setattr__("seconds", 60), "goal.attribution_window",
         "must be between 1h and 30d, got 1m"),
        (lambda c: c.re_entry.period.__setattr__("seconds", 0), "re_entry.period",
         "must be between 1h and 366d, got 0s"),
        (lambda c: c.limits.caps[1].window.rolling.__setattr__("seconds", 91 * 86400), "limits.caps[1].window.rolling",
         "must be between 1m and 90d, got 91d"),
        (lambda c: c.limits.caps[0].window.__setattr__("calendar_days", 40), "limits.caps[0].window.calendar_days",
         "1 to 31 days, got 40"),
        (lambda c: c.limits.caps[0].ClearField("window"), "limits.caps[0].window",
         "required: calendar_days or rolling"),
        (lambda c: c.limits.quiet_hours.end.__setattr__("hours", 22), "limits.quiet_hours.end",
         "must differ from start (an empty or a whole-day window)"),
        (lambda c: c.limits.quiet_hours.start.__setattr__("hours", 24), "limits.quiet_hours.start",
         "hours 0-23 and minutes 0-59 (no seconds)"),
        (lambda c: c.limits.__setattr__("default_time_zone", "Mars/Olympus"), "limits.default_time_zone",
         "unknown IANA time zone 'Mars/Olympus', e.g. Europe/Paris"),
        (lambda c: c.limits.send_rates.add(channel=C.CHANNEL_SMS, per_second=5), "limits.send_rates[1].channel",
         "one rate per campaign channel"),
        (lambda c: c.__setattr__("holdout_percent", 60), "holdout_percent",
         "0 to 50 (percent of the audience held out as the control)"),
        (lambda c: c.audience.exclude_segment_ids.append("cart-abandoners"), "audience.exclude_segment_ids[1]",
         "excludes the audience segment itself: nobody could enter"),
        (lambda c: c.audience.__setattr__("segment_id", "Cart Abandoners"), "audience.segment_id",
         "segment_id: 1-63 of [a-z0-9-], starting with a letter or digit"),
        (lambda c: c.end_time.FromDatetime(datetime(2026, 2, 1)), "end_time",
         "is in the past: a campaign that ends before it launches would send nothing"),
        (lambda c: c.costs.add(channel=C.CHANNEL_SMS).cost.__setattr__("currency_code", "USD"), "costs",
         "one currency for every cost, got EUR, USD"),
    ],
)  # fmt: skip
def test_values_out_of_range_are_refused(change: Callable[[cpb.Campaign], object], field: str, message: str) -> None:
    assert problems(broken(change)) == {f"campaign.{field}": message}


def test_event_conditions_must_name_real_fields_with_fitting_values() -> None:
    def change(c: cpb.Campaign) -> None:
        conditions = c.entry.event.event.conditions
        conditions.add(field="revenu", op=spb.OPERATOR_GT, value=spb.Literal(int_value=1))
        conditions.add(field="coupon", op=spb.OPERATOR_GT, value=spb.Literal(string_value="X"))
        conditions.add(field="revenue", op=spb.OPERATOR_GT, value=spb.Literal(string_value="100"))
        conditions.add(field="items", op=spb.OPERATOR_EQ, value=spb.Literal(int_value=1))

    found = problems(broken(change))
    where = "campaign.entry.event.event.conditions"
    assert found[f"{where}[1].field"].startswith("order_completed has no field 'revenu' (fields: coupon, discount")
    assert found[f"{where}[2].op"] == "a string field takes EQ or NE only"
    assert found[f"{where}[3].value"] == "'revenue' is a money: give double_value or int_value, got string_value"
    assert found[f"{where}[4].field"] == "'items' is a list; conditions compare single values"


def test_an_unknown_event_type_lists_the_known_ones() -> None:
    definition = broken(lambda c: c.goal.event.__setattr__("event_type", "purchase"))
    message = problems(definition)["campaign.goal.event.event_type"]
    assert message.startswith("unknown event type 'purchase' (one of: cart_item_added")
    assert "catalog_item_upserted" not in message


def test_absence_of_an_event_correlates_on_a_field_both_events_have() -> None:
    def change(c: cpb.Campaign) -> None:
        c.entry.after_event.after.event_type = "product_viewed"
        c.entry.after_event.unless.event_type = "cart_item_added"
        c.entry.after_event.delay.CopyFrom(hours(1 / 6))
        c.entry.after_event.correlate_on = "category"

    assert problems(broken(change)) == {
        "campaign.entry.after_event.correlate_on": "cart_item_added has no field 'category'"
    }

    def fixed(c: cpb.Campaign) -> None:
        change(c)
        c.entry.after_event.correlate_on = "product_id"

    assert problems(broken(fixed)) == {}


def test_problems_become_one_invalid_argument_with_every_violation() -> None:
    definition = campaign()
    definition.variants[0].weight, definition.holdout_percent = 10, -1
    found = check_campaign(definition, templates=TEMPLATES, launch=True)
    with pytest.raises(InvalidArgument) as raised:
        found.raise_if_any("campaign is invalid")
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in raised.value.violations] == ["campaign.variants", "campaign.holdout_percent"]


def test_an_order_over_100_filter_is_valid() -> None:
    assert problems(broken(lambda c: c.exit.on_events.append(order_over(100)))) == {}
