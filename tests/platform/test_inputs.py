"""The input rules every request meets (bullseye_platform.inputs): text, timestamps, durations.

Pure functions over real request messages; the rules themselves are declared in the protos
(`bullseye.input.v1`), so these tests read them from there too.
"""

from __future__ import annotations

import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as id_pb
from bullseye.ingestion.v1 import ingestion_pb2 as in_pb
from bullseye.profile.v1 import profile_pb2 as pr_pb
from bullseye.profile.v1 import segments_pb2 as sg_pb
from bullseye_platform.inputs import violations
from bullseye_platform.inputs import walk as walk_module
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.strategies import messages


def problems(message: Message, **kw: bool) -> dict[str, str]:
    return {v.field: v.description for v in violations(message, **kw)}


def walked(message: Message) -> list[tuple[str, str]]:
    """What the field-by-field walk finds, without the compiled check in front of it."""
    found: walk_module.Found = []
    walk_module._plan(message.DESCRIPTOR).walk(message, "", found, False)
    return [(v.field, v.description) for v in found]


def test_a_clean_event_has_no_problem() -> None:
    event = ev.Event(event_id="e-12345678", identifiers=ev.Identifiers(anonymous_id="a-1"))
    event.occurred_at.FromJsonString("2026-05-01T10:00:00.5Z")
    event.review_submitted.text = "Great knife.\nWould buy again.\tFive stars."
    event.context.page.url = "https://shop.example/" + "p" * 2000

    assert problems(event) == {}


@pytest.mark.parametrize(
    ("bad", "code"),
    [("\x00", "U+0000"), ("a\x01", "U+0001"), ("\x1b[2J", "U+001B"), ("tab\there", "U+0009"),
     ("new\nline", "U+000A"), ("\x7f", "U+007F"), ("\x85", "U+0085"), ("\x9f", "U+009F")],
)  # fmt: skip
def test_no_single_line_text_takes_a_control_character(bad: str, code: str) -> None:
    event = ev.Event(context=ev.Context(session_id=bad))

    [(field, description)] = problems(event).items()
    assert field == "context.session_id" and code in description


def test_multi_line_text_takes_line_breaks_and_tabs_but_no_other_control() -> None:
    fine = id_pb.MergeRequest(reason="one\r\ntwo\tthree")
    bad = id_pb.MergeRequest(reason="one\x1btwo")

    assert problems(fine) == {}
    assert problems(bad) == {
        "reason": "contains the control character U+001B at position 3; "
        "only tab, line feed and carriage return are allowed"
    }


def test_free_text_takes_any_character_but_nul_and_any_length_its_event_allows() -> None:
    every_control = "".join(map(chr, [*range(1, 32), *range(0x7F, 0xA0)]))
    fine = ev.Event(
        review_submitted=ev.ReviewSubmitted(text=every_control), context=ev.Context(user_agent="u" * 30_000)
    )
    bad = ev.Event(review_submitted=ev.ReviewSubmitted(text="one\x00two"))

    assert problems(fine) == {}
    assert problems(bad) == {
        "review_submitted.text": "contains NUL (U+0000) at position 3, which no projection can store"
    }


NUL_AT = {  # free text at every depth of an event, each given a NUL
    "context.page.title": lambda e: setattr(e.context.page, "title", "no\x00te"),
    "context.device.model": lambda e: setattr(e.context.device, "model", "no\x00te"),
    "context.attribution.utm_term": lambda e: setattr(e.context.attribution, "utm_term", "no\x00te"),
    "identified.traits.custom['note']": lambda e: e.identified.traits.custom.update(note="no\x00te"),
    "identified.personal.first_name": lambda e: setattr(e.identified.personal, "first_name", "no\x00te"),
    "order_completed.coupon": lambda e: setattr(e.order_completed, "coupon", "no\x00te"),
}


@pytest.mark.parametrize("place", list(NUL_AT))
def test_a_nul_in_free_text_is_found_at_any_depth(place: str) -> None:
    event = ev.Event(event_id="e-12345678", context=ev.Context(user_agent="Mozilla/5.0", page=ev.Page(url="/")))
    NUL_AT[place](event)

    assert list(problems(event)) == [place]


def test_bytes_holding_a_zero_for_another_reason_find_no_problem() -> None:
    """A 0x00 byte is also an empty sub-message's length, a zero sent explicitly, a byte
    field: the screen sends such a message to the walk, which finds nothing."""
    event = ev.Event(event_id="e-12345678", context=ev.Context(page=ev.Page()))

    assert b"\x00" in event.SerializeToString()
    assert problems(event) == {}


def test_bounded_text_is_at_most_256_characters_unless_its_field_says_more() -> None:
    event = ev.Event(identifiers=ev.Identifiers(user_id="u" * 257, anonymous_id="a" * 256))
    request = id_pb.MergeRequest(person_id="p", reason="r" * 501)

    assert problems(event) == {"identifiers.user_id": "is 257 characters; at most 256"}
    assert problems(request) == {"reason": "is 501 characters; at most 500"}


def test_lengths_count_characters_not_bytes() -> None:
    assert problems(ev.Event(identifiers=ev.Identifiers(user_id="é" * 256))) == {}


def test_fields_the_service_checks_are_left_to_it_but_for_nul() -> None:
    """An event's id, times, IP, locale, time zone, email and phone meet ingestion's formats,
    stricter than the rules; a NUL in one is still the rules' to find."""
    odd = ev.Event(event_id="e\x01" * 200, context=ev.Context(ip="\x1b" * 300, locale="x" * 300, timezone="\n"))
    odd.identifiers.email, odd.identifiers.phone = "\x07@example.com", "p" * 300
    odd.occurred_at.seconds = 253_402_300_800  # year 10000
    with_nul = ev.Event(event_id="e-1234\x005678", context=ev.Context(ip="1.2.3.4\x00"))

    assert problems(odd) == {}
    assert set(problems(with_nul)) == {"event_id", "context.ip"}


def test_map_keys_and_values_and_list_items_are_named_in_the_path() -> None:
    custom = {"size\x00": "M", "fit": "x" * 5000, "k" * 257: "v", "note": "a\x00b", "mood": "\x1b"}
    event = ev.Event(identified=ev.Identified(traits=ev.Traits(custom=custom)))
    request = sg_pb.EstimateRequest()
    getattr(request.rule, "in").CopyFrom(
        sg_pb.In(field="traits.city", values=[sg_pb.Literal(string_value="Paris"), sg_pb.Literal(string_value="L\x00")])
    )

    assert problems(event) == {
        "identified.traits.custom['size\\x00']": "key contains the control character U+0000 at position 4",
        f"identified.traits.custom['{'k' * 59}...']": "key is 257 characters; at most 256",
        "identified.traits.custom['note']": "contains NUL (U+0000) at position 1, which no projection can store",
    }
    assert list(problems(request)) == ["rule.in.values[1].string_value"]


@pytest.mark.parametrize(
    ("seconds", "nanos", "says"),
    [
        (253_402_300_800, 0, "out of range"),  # 10000-01-01
        (-62_135_596_801, 0, "out of range"),  # before 0001-01-01
        (0, -1, "nanos -1"),
        (0, 1_000_000_000, "nanos 1000000000"),
    ],
)
def test_a_timestamp_out_of_range_anywhere_is_a_problem(seconds: int, nanos: int, says: str) -> None:
    request = pr_pb.GetProfileRequest(person_id="p-1")
    request.as_of.seconds, request.as_of.nanos = seconds, nanos

    [(field, description)] = problems(request).items()
    assert field == "as_of" and says in description


def test_the_extreme_valid_timestamps_are_fine() -> None:
    first, last = sg_pb.GetMembershipAtRequest(segment_id="s"), sg_pb.GetMembershipAtRequest(segment_id="s")
    first.at.FromJsonString("0001-01-01T00:00:00Z")
    last.at.FromJsonString("9999-12-31T23:59:59.999999999Z")

    assert problems(first) == {} and problems(last) == {}


@pytest.mark.parametrize(("seconds", "nanos"), [(1, -1), (-1, 1), (315_576_000_001, 0), (0, 10**9)])
def test_a_duration_out_of_range_or_of_mixed_signs_is_a_problem(seconds: int, nanos: int) -> None:
    rule = sg_pb.Rule(compare=sg_pb.Compare(field="behaviour.last_seen", value=sg_pb.Literal()))
    rule.compare.value.ago.seconds, rule.compare.value.ago.nanos = seconds, nanos

    assert list(problems(rule)) == ["compare.value.ago"]


def test_fields_the_service_checks_item_by_item_are_left_to_it() -> None:
    batch = in_pb.TrackBatchRequest(events=[ev.Event(context=ev.Context(session_id="\x01"))])

    assert problems(batch, skip_items=True) == {}
    assert problems(batch) == {"events[0].context.session_id": "contains the control character U+0001 at position 0"}


def test_fields_the_server_sets_are_not_read() -> None:
    """A client's receipt or sealed data is dropped by ingestion, whatever it holds."""
    event = ev.Event(receipt=ev.Receipt(source="\x00"), identified=ev.Identified(sealed_personal={"key_id": "\x01"}))

    assert problems(event) == {}


def test_every_problem_is_reported_not_just_the_first() -> None:
    request = id_pb.ResolveRequest(identifiers=[id_pb.IdentifierRef(value=f"v{i}\x00") for i in range(100)])

    assert len(violations(request)) == 100


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        messages(ev.Event),
        messages(sg_pb.Rule, depth=5),
        messages(pr_pb.GetProfileRequest),
        messages(id_pb.SplitRequest),
        messages(sg_pb.UpdateSegmentRequest, depth=5),
    )
)
def test_the_compiled_check_never_hides_what_the_walk_finds(message: Message) -> None:
    assert [(v.field, v.description) for v in violations(message)] == walked(message)
