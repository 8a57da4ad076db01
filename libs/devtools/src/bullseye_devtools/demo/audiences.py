"""The segments the demo defines through profile's API: audiences a marketer would ask for.

Each is built from the typed rule messages of `bullseye.profile.v1` (no rule text is parsed
anywhere), so the demo also shows what the rule language reads like.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bullseye.profile.v1 import segments_pb2 as sg
from google.protobuf.duration_pb2 import Duration


@dataclass(frozen=True)
class Audience:
    segment_id: str
    name: str
    description: str
    rule: sg.Rule

    def segment(self) -> sg.Segment:
        return sg.Segment(segment_id=self.segment_id, name=self.name, description=self.description, rule=self.rule)


def _window(days: float) -> Duration:
    window = Duration()
    window.FromTimedelta(timedelta(days=days))
    return window


def _all(*rules: sg.Rule) -> sg.Rule:
    return sg.Rule(all_of=sg.RuleList(rules=rules))


def _tag(name: str) -> sg.Rule:
    return sg.Rule(tag=sg.TagCondition(name=name))


def _is(field: str, value: sg.Literal) -> sg.Rule:
    return sg.Rule(compare=sg.Compare(field=field, op=sg.OPERATOR_EQ, value=value))


def _one_of(field: str, *names: str) -> sg.Rule:
    rule = sg.Rule()
    # `in` is a Python keyword: the field is reached by name.
    getattr(rule, "in").CopyFrom(sg.In(field=field, values=[sg.Literal(string_value=name) for name in names]))
    return rule


AUDIENCES = (
    Audience(
        "cart-abandoners-7d", "Cart abandoners, last 7 days",
        "added to cart in the last 7 days and no order since: a reminder with the cart",
        sg.Rule(not_followed_by=sg.NotFollowedBy(
            event_type="cart_item_added", window=_window(7), absent_event_type="order_completed",
        )),
    ),
    Audience(
        "lapsing-email", "Lapsing buyers, email allowed",
        "RFM segment at risk, cannot lose, need attention or hibernating, marketing email consent granted: win-back",
        _all(
            _one_of("value.rfm.segment", "at_risk", "cannot_lose", "need_attention", "hibernating"),
            _is("consent.marketing.email.granted", sg.Literal(bool_value=True)),
        ),
    ),
    Audience(
        "night-owls", "High-activity night owls",
        "at least 3 interactions in 7 days, mostly between 22:00 and 06:00 local time: late-evening sends",
        _all(_tag("high_activity"), _tag("night_owl")),
    ),
    Audience("champions", "Champions", "RFM champions: early access and referral asks",
             _is("value.rfm.segment", sg.Literal(string_value="champions"))),
    Audience(
        "dormant-buyers", "Dormant buyers",
        "bought before, no activity for 60 days or more: a come-back offer",
        _all(_one_of("lifecycle_stage", "dormant", "churned"),
             sg.Rule(event_count=sg.EventCount(event_type="order_completed", op=sg.OPERATOR_GE, count=1))),
    ),
)  # fmt: skip
