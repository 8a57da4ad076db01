"""JSON log lines carry the active trace; trace context survives a trip through message headers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from bullseye_platform.logging import JsonFormatter
from bullseye_platform.telemetry import (
    IdsOnlyTracerProvider,
    batch_span,
    carried_headers,
    extract_context,
    inject_headers,
)
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider


@pytest.fixture
def tracer() -> trace.Tracer:
    """A recording tracer that does not touch the process-wide provider."""
    return TracerProvider().get_tracer("tests")


@pytest.fixture
def log_lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(JsonFormatter("profile"))
    logger = logging.getLogger("tests.platform.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, sink
    logger.removeHandler(handler)


def entries(sink: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in sink.getvalue().splitlines()]


def test_a_log_line_is_one_json_object_with_the_active_trace_and_span_ids(
    log_lines: tuple[logging.Logger, io.StringIO], tracer: trace.Tracer
) -> None:
    logger, sink = log_lines
    with tracer.start_as_current_span("resolve") as span:
        logger.info("merged %d identities", 2, extra={"person_id": "p-1"})

    [entry] = entries(sink)
    context = span.get_span_context()
    assert entry["trace_id"] == format(context.trace_id, "032x")
    assert entry["span_id"] == format(context.span_id, "016x")
    assert entry["msg"] == "merged 2 identities"
    assert (entry["level"], entry["service"], entry["logger"]) == ("info", "profile", "tests.platform.json")
    assert entry["person_id"] == "p-1"
    assert str(entry["ts"]).endswith("Z")


def test_a_log_line_outside_a_span_has_no_trace_ids(log_lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, sink = log_lines
    logger.warning("no trace here")

    [entry] = entries(sink)
    assert "trace_id" not in entry and "span_id" not in entry


def test_an_exception_is_logged_inside_the_same_json_object(log_lines: tuple[logging.Logger, io.StringIO]) -> None:
    logger, sink = log_lines
    try:
        raise ValueError("bad record")
    except ValueError:
        logger.exception("batch failed")

    [entry] = entries(sink)
    assert entry["level"] == "error"
    assert "ValueError: bad record" in str(entry["exc"])


def test_trace_context_injected_into_headers_is_extracted_unchanged(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("track") as span:
        headers = inject_headers({"Nats-Msg-Id": "evt-1"})

    carried = trace.get_current_span(extract_context(headers)).get_span_context()
    sent = span.get_span_context()
    assert headers["Nats-Msg-Id"] == "evt-1"
    assert headers["traceparent"].split("-")[1] == format(sent.trace_id, "032x")
    assert (carried.trace_id, carried.span_id, carried.is_remote) == (sent.trace_id, sent.span_id, True)


def test_headers_without_trace_context_extract_to_no_parent() -> None:
    for headers in (None, {}, {"Nats-Msg-Id": "evt-1"}):
        assert not trace.get_current_span(extract_context(headers)).get_span_context().is_valid


def test_injecting_outside_a_span_adds_no_traceparent() -> None:
    assert "traceparent" not in inject_headers({})


def test_each_line_is_stamped_with_its_own_time_in_utc_to_the_millisecond() -> None:
    formatter = JsonFormatter("profile")
    stamps = []
    for second, msecs in ((1_700_000_000, 250.0), (1_700_000_000, 500.0), (1_700_000_001, 7.0), (1_699_999_999, 999.0)):
        record = logging.makeLogRecord({"msg": "tick", "created": second + msecs / 1000, "msecs": msecs})
        stamps.append(json.loads(formatter.format(record))["ts"])

    assert stamps == [
        "2023-11-14T22:13:20.250Z",
        "2023-11-14T22:13:20.500Z",
        "2023-11-14T22:13:21.007Z",
        "2023-11-14T22:13:19.999Z",
    ]


def test_without_an_exporter_a_span_still_has_ids_that_logs_and_headers_carry(
    log_lines: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, sink = log_lines
    tracer = IdsOnlyTracerProvider().get_tracer("tests")
    with tracer.start_as_current_span("track") as span:
        logger.info("accepted")
        headers = inject_headers({})

    ids = span.get_span_context()
    [entry] = entries(sink)
    assert ids.is_valid and ids.trace_flags.sampled
    assert (entry["trace_id"], entry["span_id"]) == (format(ids.trace_id, "032x"), format(ids.span_id, "016x"))
    assert headers["traceparent"].split("-")[1:3] == [entry["trace_id"], entry["span_id"]]


def test_without_an_exporter_a_span_continues_the_callers_trace_with_its_flags() -> None:
    tracer = IdsOnlyTracerProvider().get_tracer("tests")
    for flags in ("01", "00"):
        caller = extract_context({"traceparent": f"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}"})
        with tracer.start_as_current_span("resolve", context=caller):
            headers = inject_headers({})

        _, trace_id, span_id, carried_flags = headers["traceparent"].split("-")
        assert (trace_id, carried_flags) == ("4bf92f3577b34da6a3ce929d0e0e4736", flags)
        assert span_id != "00f067aa0ba902b7", "a span of its own, child of the caller's"


def test_a_batch_span_continues_the_first_messages_trace_and_links_to_the_other_traces(tracer: trace.Tracer) -> None:
    sent = []
    for request in ("first", "second"):
        with tracer.start_as_current_span(request) as span:
            sent.append((span.get_span_context(), inject_headers({})))
    (first, first_headers), (second, second_headers) = sent
    with batch_span("project profile", [{}, first_headers, second_headers, first_headers], tracer=tracer) as batch:
        caused_by_first, caused_by_second = carried_headers(first_headers), carried_headers(second_headers)

    own = batch.get_span_context()
    assert own.trace_id == first.trace_id and batch.parent is not None and batch.parent.span_id == first.span_id
    assert [link.context.span_id for link in batch.links] == [second.span_id], "one link per other trace"
    assert batch.attributes is not None and batch.attributes["messaging.batch.message_count"] == 4
    # What the batch emits goes on in each message's trace: under the batch span where it continues it.
    assert caused_by_first["traceparent"].split("-")[1:3] == [format(own.trace_id, "032x"), format(own.span_id, "016x")]
    assert caused_by_second == second_headers


def test_a_batch_without_trace_context_starts_a_trace_of_its_own(tracer: trace.Tracer) -> None:
    with batch_span("project identity", [{}, {"Nats-Msg-Id": "e-1"}], tracer=tracer) as batch:
        pass
    assert batch.get_span_context().is_valid and batch.parent is None and not batch.links
