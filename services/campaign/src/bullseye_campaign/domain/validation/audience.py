"""Who enters and when: audience, entry, re-entry and exit."""

from __future__ import annotations

from bullseye.campaign.v1 import definition_pb2 as cpb

from bullseye_campaign.domain.events import check_filter, payload_types
from bullseye_campaign.domain.validation.ids import id_problem
from bullseye_campaign.domain.violations import DAY, HOUR, MINUTE, Violations

MAX_EXCLUSIONS = 20
MAX_EXIT_EVENTS = 10
Policy = cpb.ReEntryPolicy


def check(problems: Violations, campaign: cpb.Campaign, *, launch: bool) -> None:
    _audience(problems.at("audience"), campaign.audience, launch=launch)
    _entry(problems.at("entry"), campaign.entry, launch=launch)
    _re_entry(problems.at("re_entry"), campaign.re_entry, launch=launch)
    _exit(problems.at("exit"), campaign.exit)


def _audience(problems: Violations, audience: cpb.Audience, *, launch: bool) -> None:
    source = audience.WhichOneof("source")
    if source is None and launch:
        problems.required("source", "a segment_id or an inline rule")
    if source == "segment_id" and (problem := id_problem(audience.segment_id, "segment_id")):
        problems.add("segment_id", problem)
    if source == "rule" and audience.rule.WhichOneof("kind") is None:
        problems.add("rule", "an empty rule: set one of all_of, any_of, none_of, compare, in, exists, tag, ...")
    if len(audience.exclude_segment_ids) > MAX_EXCLUSIONS:
        problems.add("exclude_segment_ids", f"at most {MAX_EXCLUSIONS} segments")
    seen: set[str] = set()
    for i, segment_id in enumerate(audience.exclude_segment_ids):
        if problem := id_problem(segment_id, "segment id"):
            problems.add(f"exclude_segment_ids[{i}]", problem)
        elif segment_id in seen:
            problems.add(f"exclude_segment_ids[{i}]", f"{segment_id!r} is listed twice")
        elif source == "segment_id" and segment_id == audience.segment_id:
            problems.add(f"exclude_segment_ids[{i}]", "excludes the audience segment itself: nobody could enter")
        seen.add(segment_id)


def _entry(problems: Violations, entry: cpb.Entry, *, launch: bool) -> None:
    kind = entry.WhichOneof("kind")
    if kind is None and launch:
        problems.required("kind", "broadcast, event, segment_entered or after_event")
    elif kind == "broadcast" and entry.broadcast.HasField("every"):
        problems.at("broadcast").duration("every", entry.broadcast.every, low=HOUR, high=366 * DAY)
    elif kind == "event":
        _filter(problems.at("event.event"), entry.event.event, required=True)
    elif kind == "segment_entered":
        problems.at("segment_entered").duration("delay", entry.segment_entered.delay, low=0, high=90 * DAY)
    elif kind == "after_event":
        _after_event(problems.at("after_event"), entry.after_event)


def _after_event(problems: Violations, after: cpb.AfterEvent) -> None:
    _filter(problems.at("after"), after.after, required=True)
    problems.duration("delay", after.delay, low=MINUTE, high=90 * DAY)
    if after.HasField("unless"):
        _filter(problems.at("unless"), after.unless, required=True)
    if not after.correlate_on:
        return
    if not after.HasField("unless"):
        problems.add("correlate_on", "only with `unless`: it pairs an `unless` event with the wait it cancels")
        return
    for side in (after.after.event_type, after.unless.event_type):
        fields = payload_types().get(side)
        if fields is not None and after.correlate_on not in fields.fields_by_name:
            problems.add("correlate_on", f"{side} has no field {after.correlate_on!r}")


def _filter(problems: Violations, event_filter: cpb.EventFilter, *, required: bool) -> None:
    if required and not event_filter.event_type:
        problems.add("event_type", "required: an event type, e.g. order_completed")
        return
    check_filter(problems, event_filter)


def _re_entry(problems: Violations, re_entry: cpb.ReEntry, *, launch: bool) -> None:
    if re_entry.policy == Policy.RE_ENTRY_POLICY_UNSPECIFIED:
        if launch:
            problems.required("policy", "ONCE_EVER, ONCE_PER_PERIOD or EVERY_TIME")
    elif re_entry.policy == Policy.RE_ENTRY_POLICY_ONCE_PER_PERIOD:
        problems.duration("period", re_entry.period, low=HOUR, high=366 * DAY)
    elif re_entry.HasField("period"):
        problems.add("period", "only with ONCE_PER_PERIOD")


def _exit(problems: Violations, exit_rules: cpb.Exit) -> None:
    if len(exit_rules.on_events) > MAX_EXIT_EVENTS:
        problems.add("on_events", f"at most {MAX_EXIT_EVENTS} exit events")
    for i, event_filter in enumerate(exit_rules.on_events):
        _filter(problems.at(f"on_events[{i}]"), event_filter, required=True)
