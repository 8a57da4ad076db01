"""OpenTelemetry tracing and metrics in one call, and trace context across NATS headers.

Traces go to an OTLP collector when OTEL_EXPORTER_OTLP_ENDPOINT is set (the standard
variable); metrics are served for Prometheus on `metrics_port` (0 turns it off).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


@dataclass
class Telemetry:
    """Handles to flush and stop exporters on shutdown."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def setup_telemetry(service: str, *, metrics_port: int = 0, version: str = "0.1.0") -> Telemetry:
    """Install global tracer and meter providers for `service`."""
    resource = Resource.create({"service.name": service, "service.version": version})
    tracer_provider = TracerProvider(resource=resource)
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    readers = []
    if metrics_port:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="0.0.0.0")
        readers.append(PrometheusMetricReader())
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    metrics.set_meter_provider(meter_provider)
    return Telemetry(tracer_provider, meter_provider)


def inject_headers(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context (W3C traceparent) to message headers."""
    propagate.inject(headers)
    return headers


def extract_context(headers: Mapping[str, str] | None) -> Context:
    """The trace context carried by message headers or gRPC metadata."""
    return propagate.extract(dict(headers or {}))


@contextmanager
def continued_span(name: str, headers: Mapping[str, str] | None, **attributes: str) -> Iterator[trace.Span]:
    """A consumer span that continues the producer's trace."""
    tracer = trace.get_tracer("bullseye")
    with tracer.start_as_current_span(
        name, context=extract_context(headers), kind=trace.SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span
