"""The segment rule language: validation errors and the meaning of every condition.

Pure unit tests: rules are compiled and evaluated on hand-built Profile messages, the same
way membership refresh evaluates them on profiles loaded from the database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye.profile.v1 import segments_pb2 as sg
from bullseye_profile.segments.membership import nanos
from bullseye_profile.segments.rules import RuleError, compile_rule
from google.protobuf.duration_pb2 import Duration

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = 86400
EQ, NE, LT, LE, GT, GE = (sg.OPERATOR_EQ, sg.OPERATOR_NE, sg.OPERATOR_LT, sg.OPERATOR_LE, sg.OPERATOR_GT,
                          sg.OPERATOR_GE)  # fmt: skip


def lit(value: Any) -> sg.Literal:
    if isinstance(value, bool):
        return sg.Literal(bool_value=value)
    if isinstance(value, int):
        return sg.Literal(int_value=value)
    if isinstance(value, float):
        return sg.Literal(double_value=value)
    if isinstance(value, datetime):
        literal = sg.Literal()
        literal.timestamp_value.FromDatetime(value)
        return literal
    if isinstance(value, timedelta):
        return sg.Literal(ago=Duration(seconds=int(value.total_seconds())))
    return sg.Literal(string_value=value)


def compare(field: str, op: int, value: Any) -> sg.Rule:
    return sg.Rule(compare=sg.Compare(field=field, op=op, value=lit(value)))


def in_(field: str, *values: Any) -> sg.Rule:
    return sg.Rule(**{"in": sg.In(field=field, values=[lit(v) for v in values])})


def exists(field: str) -> sg.Rule:
    return sg.Rule(exists=sg.Exists(field=field))


def all_of(*rules: sg.Rule) -> sg.Rule:
    return sg.Rule(all_of=sg.RuleList(rules=rules))


def any_of(*rules: sg.Rule) -> sg.Rule:
    return sg.Rule(any_of=sg.RuleList(rules=rules))


def none_of(*rules: sg.Rule) -> sg.Rule:
    return sg.Rule(none_of=sg.RuleList(rules=rules))


def event_count(event_type: str, op: int, count: int, window_days: int | None = None) -> sg.Rule:
    condition = sg.EventCount(event_type=event_type, op=op, count=count)
    if window_days is not None:
        condition.window.seconds = window_days * DAY
    return sg.Rule(event_count=condition)


def not_followed_by(first: str, absent: str, window: timedelta) -> sg.Rule:
    condition = sg.NotFollowedBy(event_type=first, absent_event_type=absent)
    condition.window.FromTimedelta(window)
    return sg.Rule(not_followed_by=condition)


def holds(rule: sg.Rule, profile: pb.Profile, now: datetime = NOW) -> bool:
    return compile_rule(rule)(profile, nanos(now))


def violations(rule: sg.Rule) -> dict[str, str]:
    with pytest.raises(RuleError) as caught:
        compile_rule(rule, at="segment.rule")
    return {v.field: v.description for v in caught.value.violations}


def shopper() -> pb.Profile:
    p = pb.Profile(person_id="p-1")
    p.traits.country = "DE"
    p.traits.city = "O'Brien's \"Town\""
    p.traits.birth_year = 1990
    p.traits.custom["loyalty"] = "gold"
    p.value.orders = 4
    p.value.revenue = 250.5
    p.value.rfm.segment = pb.RFM_SEGMENT_AT_RISK
    p.value.last_purchase_at.FromDatetime(NOW - timedelta(days=10))
    p.consent.marketing.email.granted = True
    p.consent.marketing.email.updated_at.FromDatetime(NOW - timedelta(days=100))
    p.lifecycle_stage = pb.LIFECYCLE_STAGE_STABLE
    p.behaviour.counts_7d.cart_item_added = 3
    p.behaviour.counts_lifetime.order_completed = 4
    p.behaviour.last_at.cart_item_added.FromDatetime(NOW - timedelta(hours=5))
    p.behaviour.last_at.order_completed.FromDatetime(NOW - timedelta(days=10))
    p.tags.add(name="high_activity", family=pb.TAG_FAMILY_BEHAVIOUR, version=1)
    return p


# --- validation -----------------------------------------------------------------------


def test_unknown_field_is_named_by_its_path_in_the_request_with_close_matches() -> None:
    rule = all_of(compare("traits.country", EQ, "DE"), compare("traits.countyr", EQ, "DE"))

    problems = violations(rule)

    assert list(problems) == ["segment.rule.all_of.rules[1].compare.field"]
    assert "unknown field 'countyr' in traits" in problems["segment.rule.all_of.rules[1].compare.field"]
    assert "did you mean traits.country" in problems["segment.rule.all_of.rules[1].compare.field"]


def test_every_problem_of_a_rule_is_reported_at_once() -> None:
    rule = any_of(
        compare("value.orders", GE, "three"),
        compare("traits.country", GT, "DE"),
        in_("value.rfm.segment", "at_risk", "cant_lose"),
        sg.Rule(),
    )

    problems = violations(rule)

    assert "wrong type" in problems["segment.rule.any_of.rules[0].compare.value"]
    assert "takes int_value, not string_value" in problems["segment.rule.any_of.rules[0].compare.value"]
    assert "only EQ and NE" in problems["segment.rule.any_of.rules[1].compare.op"]
    assert "did you mean cannot_lose" in problems["segment.rule.any_of.rules[2].in.values[1]"]
    assert "set one condition" in problems["segment.rule.any_of.rules[3]"]


@pytest.mark.parametrize(
    "field",
    [
        "traits.country'; DROP TABLE segments;--",
        "traits.country OR 1=1",
        "traits.custom",  # a map needs a key
        "tags",  # a list
        "traits.country.length",  # past a value
        "",
    ],
)
def test_field_names_that_are_not_plain_paths_to_a_value_are_rejected(field: str) -> None:
    problems = violations(compare(field, EQ, "DE"))

    assert list(problems) == ["segment.rule.compare.field"]


def test_an_injection_attempt_in_a_field_name_is_an_unknown_field() -> None:
    problems = violations(compare("traits.country'; DROP TABLE x;--", EQ, "DE"))

    assert problems["segment.rule.compare.field"].startswith('unknown field "country\'; DROP TABLE x;--" in traits')


@pytest.mark.parametrize(
    ("rule", "field", "says"),
    [
        (event_count("order_completed", GE, 1, window_days=2), "segment.rule.event_count.window", "1d (86400s), 7d"),
        (event_count("orders", GE, 1), "segment.rule.event_count.event_type", "unknown event type 'orders'"),
        (event_count("order_completed", 0, 1), "segment.rule.event_count.op", "set an operator"),
        (event_count("order_completed", GE, -1), "segment.rule.event_count.count", "0 or more"),
        (not_followed_by("cart_item_added", "order_completed", timedelta(0)), "segment.rule.not_followed_by.window",
         "positive duration"),
        (not_followed_by("cart_item_added", "order_completed", timedelta(days=366)),
         "segment.rule.not_followed_by.window", "at most 365 days"),
        (not_followed_by("cart_item_added", "cart_item_added", timedelta(days=1)),
         "segment.rule.not_followed_by.absent_event_type", "must differ"),
        (compare("behaviour.last_seen", GE, timedelta(days=400)), "segment.rule.compare.value", "at most 365 days"),
        (compare("behaviour.last_seen", GE, timedelta(0)), "segment.rule.compare.value", "positive duration"),
        (compare("behaviour.last_seen", GE, 5), "segment.rule.compare.value", "timestamp_value or ago"),
        (compare("value.revenue", GE, float("nan")), "segment.rule.compare.value", "finite"),
        (compare("consent.marketing", EQ, True), "segment.rule.compare.field", "compare one of: email, sms"),
        (in_("behaviour.last_seen", 1), "segment.rule.in.field", "`in` takes strings, enums and numbers"),
        (in_("traits.country"), "segment.rule.in.values", "give 1 to 1000"),
        (all_of(), "segment.rule.all_of.rules", "at least one rule"),
        (sg.Rule(tag=sg.TagCondition(name="")), "segment.rule.tag.name", "declared tags: registered"),
        (sg.Rule(tag=sg.TagCondition(name="night-owl")), "segment.rule.tag.name", "did you mean night_owl"),
        (compare("traits.city", EQ, "x" * 1025), "segment.rule.compare.value", "at most 1024"),
    ],
)  # fmt: skip
def test_bad_conditions_name_the_field_and_what_to_fix(rule: sg.Rule, field: str, says: str) -> None:
    problems = violations(rule)

    assert field in problems, problems
    assert says in problems[field]


def test_nesting_and_size_are_limited() -> None:
    deep = compare("value.orders", GE, 1)
    for _ in range(8):
        deep = all_of(deep)
    wide = any_of(*(compare("value.orders", EQ, i) for i in range(200)))

    assert "nested too deep" in " ".join(violations(deep).values())
    assert "at most 200" in violations(wide)["segment.rule"]


# --- evaluation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [(EQ, 4, True), (NE, 4, False), (LT, 5, True), (LT, 4, False), (LE, 4, True), (GT, 3, True), (GT, 4, False),
     (GE, 4, True), (GE, 5, False)],
)  # fmt: skip
def test_integer_comparisons(op: int, value: int, expected: bool) -> None:
    assert holds(compare("value.orders", op, value), shopper()) is expected


def test_doubles_compare_with_int_or_double_literals() -> None:
    p = shopper()

    assert holds(compare("value.revenue", GT, 250), p)
    assert holds(compare("value.revenue", LE, 250.5), p)
    assert not holds(compare("value.revenue", LT, 250.5), p)


def test_timestamps_compare_with_absolute_times_and_with_ago_relative_to_now() -> None:
    p = shopper()  # last purchase 10 days before NOW

    assert holds(compare("value.last_purchase_at", GE, NOW - timedelta(days=11)), p)
    assert not holds(compare("value.last_purchase_at", GE, NOW - timedelta(days=9)), p)
    assert holds(compare("value.last_purchase_at", GE, timedelta(days=30)), p)
    assert not holds(compare("value.last_purchase_at", GE, timedelta(days=7)), p)
    # The same rule later: ago moves with the evaluation time.
    assert not holds(compare("value.last_purchase_at", GE, timedelta(days=30)), p, now=NOW + timedelta(days=25))


def test_strings_match_literally_quotes_and_sql_included() -> None:
    p = shopper()

    assert holds(compare("traits.city", EQ, "O'Brien's \"Town\""), p)
    assert not holds(compare("traits.city", EQ, "' OR '1'='1"), p)
    assert not holds(compare("traits.country", EQ, "D%"), p)
    assert holds(compare("traits.country", NE, "' OR '1'='1"), p)


def test_enums_match_by_full_or_short_name_in_any_case() -> None:
    p = shopper()

    assert holds(compare("value.rfm.segment", EQ, "RFM_SEGMENT_AT_RISK"), p)
    assert holds(compare("value.rfm.segment", EQ, "at_risk"), p)
    assert holds(compare("lifecycle_stage", NE, "churned"), p)
    assert not holds(compare("value.rfm.segment", EQ, "champions"), p)


def test_booleans_and_nested_consent() -> None:
    p = shopper()

    assert holds(compare("consent.marketing.email.granted", EQ, True), p)
    assert not holds(compare("consent.marketing.sms.granted", EQ, True), p)


def test_in_matches_any_listed_value() -> None:
    p = shopper()

    assert holds(in_("value.rfm.segment", "at_risk", "cannot_lose"), p)
    assert not holds(in_("value.rfm.segment", "champions", "loyal"), p)
    assert holds(in_("traits.country", "FR", "DE"), p)
    assert holds(in_("value.orders", 1, 4, 9), p)


def test_custom_traits_by_key_and_a_missing_key_never_compares() -> None:
    p = shopper()

    assert holds(compare("traits.custom.loyalty", EQ, "gold"), p)
    assert not holds(compare("traits.custom.colour", EQ, "red"), p)
    assert not holds(compare("traits.custom.colour", NE, "red"), p)  # absent: NE is false too
    assert holds(exists("traits.custom.loyalty"), p)
    assert not holds(exists("traits.custom.colour"), p)


def test_exists_on_timestamps_messages_and_scalars() -> None:
    p = shopper()

    assert holds(exists("value.last_purchase_at"), p)
    assert not holds(exists("value.first_purchase_at"), p)
    assert holds(exists("consent.marketing.email"), p)
    assert not holds(exists("consent.analytics"), p)
    assert holds(exists("traits.country"), p)
    assert not holds(exists("traits.gender"), p)


def test_an_unset_timestamp_never_compares() -> None:
    p = shopper()

    assert not holds(compare("value.first_purchase_at", LT, NOW), p)
    assert not holds(compare("value.first_purchase_at", NE, NOW), p)


def test_tags_by_name() -> None:
    assert holds(sg.Rule(tag=sg.TagCondition(name="high_activity")), shopper())
    assert not holds(sg.Rule(tag=sg.TagCondition(name="night_owl")), shopper())
    assert not holds(sg.Rule(tag=sg.TagCondition(name="high_activity")), pb.Profile())


def test_event_count_reads_the_window_the_profile_keeps() -> None:
    p = shopper()

    assert holds(event_count("cart_item_added", GE, 3, window_days=7), p)
    assert not holds(event_count("cart_item_added", GE, 1, window_days=1), p)
    assert holds(event_count("order_completed", EQ, 4), p)  # lifetime


def test_not_followed_by_is_the_last_event_in_the_window_without_the_other_since() -> None:
    p = shopper()  # cart 5 hours ago, last order 10 days ago
    abandoned = not_followed_by("cart_item_added", "order_completed", timedelta(days=1))

    assert holds(abandoned, p)
    assert not holds(not_followed_by("cart_item_added", "order_completed", timedelta(hours=4)), p)
    p.behaviour.last_at.order_completed.FromDatetime(NOW - timedelta(hours=1))
    assert not holds(abandoned, p)
    assert not holds(not_followed_by("checkout_started", "order_completed", timedelta(days=1)), p)


def test_all_any_and_none_combine() -> None:
    p = shopper()
    yes, no = compare("traits.country", EQ, "DE"), compare("traits.country", EQ, "FR")

    assert holds(all_of(yes, yes), p) and not holds(all_of(yes, no), p)
    assert holds(any_of(no, yes), p) and not holds(any_of(no, no), p)
    assert holds(none_of(no), p) and not holds(none_of(no, yes), p)


def test_the_issue_examples() -> None:
    p = shopper()
    at_risk_emailable = all_of(
        in_("value.rfm.segment", "at_risk", "cannot_lose"), compare("consent.marketing.email.granted", EQ, True)
    )
    abandoned_cart = not_followed_by("cart_item_added", "order_completed", timedelta(days=1))

    assert holds(at_risk_emailable, p)
    assert holds(abandoned_cart, p)
    assert not holds(at_risk_emailable, pb.Profile(person_id="p-empty"))
    assert not holds(abandoned_cart, pb.Profile(person_id="p-empty"))
