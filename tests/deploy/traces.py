"""Traces a test starts as a client would, and the spans the services exported in them.

A `Trace` is what a client's call brings (a `traceparent` naming the client's own span); a
`Step` is one span expected downstream, and `descent` follows the steps from the client's
span, each step's span the child of the one before: a server span under its caller's client
span, a consumer's batch span under the span that appended the batch's first record.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import NamedTuple

from bullseye.events.v1 import event_pb2 as ev
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.deploy.stack import ExportedSpan

SERVER, CLIENT, CONSUMER = Span.SPAN_KIND_SERVER, Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_CONSUMER


class Trace:
    """A client's call in a trace of its own."""

    def __init__(self) -> None:
        self.trace_id, self.client_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]

    @property
    def metadata(self) -> list[tuple[str, str]]:
        return [("traceparent", f"00-{self.trace_id}-{self.client_span}-01")]


class Sent(Trace):
    """One TrackBatch a client sent inside a trace of its own."""

    def __init__(self, events: list[ev.Event]) -> None:
        super().__init__()
        self.events = events


class Step(NamedTuple):
    service: str
    name: str  # the span's name, or its start ("project identity" for identity's consumer)
    kind: int

    def matches(self, span: ExportedSpan) -> bool:
        return span.service == self.service and span.kind == self.kind and span.name.startswith(self.name)


def descent(spans: Sequence[ExportedSpan], trace: Trace, steps: Sequence[Step]) -> list[ExportedSpan]:
    """The longest run of spans of `trace` that follows `steps` from the client's span (all of
    them once every span is exported). Every path is tried: a call retried after UNAVAILABLE
    has one client span over two attempts, and the server span of the failed one ends there."""
    in_trace = [s for s in spans if s.trace_id == trace.trace_id]
    return _below(in_trace, trace.client_span, steps)


def _below(spans: Sequence[ExportedSpan], parent: str, steps: Sequence[Step]) -> list[ExportedSpan]:
    if not steps:
        return []
    paths = [[s, *_below(spans, s.span_id, steps[1:])] for s in spans if s.parent_id == parent and steps[0].matches(s)]
    return max(paths, key=len, default=[])


def shown(spans: Sequence[ExportedSpan]) -> list[str]:
    """Spans as a failure message names them."""
    return [f"{s.service}:{s.name}" for s in spans]
