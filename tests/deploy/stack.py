"""Identity, ingestion, profile, recommendation and campaign as real processes on streams and
schemas of their own, exporting spans over OTLP to a receiver in the test process and metrics
for Prometheus.

The receiver is OpenTelemetry's own trace service (opentelemetry-proto) on a port the
kernel picked (bound here, so no race); each service's BatchSpanProcessor sends to it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.services import ServiceProcess, service_socket
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as otlp
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as otlp_grpc

from tests.conftest import service_env

PARTITIONS = "4"
# Who calls whom, and the variable that says where: addresses are Unix sockets, known before
# anything starts (identity and ingestion call each other).
CALLS = {
    "ingestion": {"identity": "INGESTION_IDENTITY_ADDRESS"},
    "profile": {"identity": "PROFILE_IDENTITY_ADDRESS"},
    "recommendation": {"identity": "RECOMMENDATION_IDENTITY_ADDRESS"},
    "identity": {"ingestion": "IDENTITY_INGESTION_ADDRESS"},
    "campaign": {
        "identity": "CAMPAIGN_IDENTITY_ADDRESS",
        "profile": "CAMPAIGN_PROFILE_ADDRESS",
        "recommendation": "CAMPAIGN_RECOMMENDATION_ADDRESS",
    },
}
STREAM_LIMIT = str(1 << 30)  # every stream gets a byte limit: the storage alert needs one


@dataclass(frozen=True)
class ExportedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    links: tuple[str, ...]  # the span ids it links to
    kind: int  # OTLP's Span.SpanKind: SERVER, CLIENT, CONSUMER, ...


class SpanReceiver(otlp_grpc.TraceServiceServicer):  # type: ignore[misc]
    """Collects what services export (OTLP/gRPC), as ExportedSpans."""

    def __init__(self) -> None:
        self.spans: list[ExportedSpan] = []
        self._server = grpc.aio.server()
        otlp_grpc.add_TraceServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    async def start(self) -> SpanReceiver:
        await self._server.start()
        return self

    async def stop(self) -> None:
        await self._server.stop(grace=None)

    async def Export(self, request: otlp.ExportTraceServiceRequest, context: object) -> otlp.ExportTraceServiceResponse:
        for resource in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
            for scope in resource.scope_spans:
                self.spans += [
                    ExportedSpan(service, s.name, s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(),
                                 tuple(link.span_id.hex() for link in s.links), s.kind)
                    for s in scope.spans
                ]  # fmt: skip
        return otlp.ExportTraceServiceResponse()


@dataclass
class Stack:
    """The services of one test module, their names and where their metrics are."""

    tag: str
    log_dir: Path
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def events(self) -> str:
        return f"EVENTS_T{self.tag}"

    @property
    def metrics(self) -> dict[str, int]:
        """Each running service's metrics port (any free one, reported when it serves)."""
        return {name: s.metrics_port for name, s in self.services.items() if s.proc is not None}

    def start(self, service: str) -> ServiceProcess:
        return self.services[service].start()

    def log(self, service: str) -> str:
        return self.services[service].log_path.read_text()

    def complaints(self, last: int = 20) -> str:
        """The last warnings and errors each started service logged: what a failed setup prints."""
        said = []
        for name, service in self.services.items():
            if service.log_path.exists():
                said += [f"--- {name}", *service.complaints(last)]
        return "\n".join(said)


def plan(
    nats_server: NatsServer, postgres: PostgresServer, receiver: SpanReceiver, log_dir: Path, *,
    campaign: dict[str, str] | None = None,
) -> Stack:  # fmt: skip
    """The processes, configured (each other's addresses included) but not started; `campaign`:
    its channel settings (the test's sinks)."""
    tag = uuid.uuid4().hex[:6]
    stack = Stack(tag, log_dir)
    shared = service_env(  # what every test's services get (credentials included), plus the exporter
        nats_server, postgres, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.port}",
        OTEL_EXPORTER_OTLP_INSECURE="true", OTEL_BSP_SCHEDULE_DELAY="100",
    )  # fmt: skip
    names = {
        "identity": {
            "IDENTITY_EVENTS_STREAM": stack.events, "IDENTITY_EVENTS_SUBJECT_PREFIX": f"events{tag}",
            "IDENTITY_EVENTS_PARTITIONS": PARTITIONS, "IDENTITY_STREAM": f"RESOLVED_T{tag}",
            "IDENTITY_SUBJECT_PREFIX": f"resolved{tag}", "IDENTITY_PARTITIONS": PARTITIONS,
            "IDENTITY_CONSUMER": f"identity-{tag}",
        },
        "ingestion": {
            "INGESTION_STREAM": stack.events, "INGESTION_SUBJECT_PREFIX": f"events{tag}",
            "INGESTION_PARTITIONS": PARTITIONS, "INGESTION_LOG_LEVEL": "debug",
        },
        "profile": {
            "PROFILE_RESOLVED_STREAM": f"RESOLVED_T{tag}", "PROFILE_RESOLVED_SUBJECT_PREFIX": f"resolved{tag}",
            "PROFILE_RESOLVED_PARTITIONS": PARTITIONS, "PROFILE_STREAM": f"PROFILE_T{tag}",
            "PROFILE_SUBJECT_PREFIX": f"profile{tag}", "PROFILE_PARTITIONS": PARTITIONS,
        },
        "campaign": {
            "CAMPAIGN_RESOLVED_STREAM": f"RESOLVED_T{tag}", "CAMPAIGN_RESOLVED_SUBJECT_PREFIX": f"resolved{tag}",
            "CAMPAIGN_RESOLVED_PARTITIONS": PARTITIONS, "CAMPAIGN_PROFILE_STREAM": f"PROFILE_T{tag}",
            "CAMPAIGN_PROFILE_SUBJECT_PREFIX": f"profile{tag}", "CAMPAIGN_PROFILE_PARTITIONS": PARTITIONS,
            "CAMPAIGN_STREAM": f"CAMPAIGN_T{tag}", "CAMPAIGN_SUBJECT_PREFIX": f"campaign{tag}",
            "CAMPAIGN_PARTITIONS": PARTITIONS, "CAMPAIGN_JOB_POLL": "1s", **(campaign or {}),
        },
        "recommendation": {
            "RECOMMENDATION_RESOLVED_STREAM": f"RESOLVED_T{tag}",
            "RECOMMENDATION_RESOLVED_SUBJECT_PREFIX": f"resolved{tag}",
            "RECOMMENDATION_RESOLVED_PARTITIONS": PARTITIONS, "RECOMMENDATION_CATALOG_STREAM": f"CATALOG_T{tag}",
            "RECOMMENDATION_CATALOG_SUBJECT_PREFIX": f"catalog{tag}", "RECOMMENDATION_STREAM": f"RECO_T{tag}",
            "RECOMMENDATION_SUBJECT_PREFIX": f"reco{tag}", "RECOMMENDATION_PARTITIONS": PARTITIONS,
            "RECOMMENDATION_MODEL_DIR": str(log_dir / tag / "models"),
            "RECOMMENDATION_SPOOL_DIR": str(log_dir / tag / "spool"), "RECOMMENDATION_MODEL_POLL": "1s",
        },
    }  # fmt: skip
    for service, own in names.items():
        prefix = service.upper()
        env = {
            **shared, **own, f"{prefix}_SCHEMA": f"{service}_t{tag}", f"{prefix}_STREAM_MAX_BYTES": STREAM_LIMIT,
            f"{prefix}_METRICS_PORT": "0", f"{prefix}_METRICS_INTERVAL": "0.2s",
        }  # fmt: skip
        socket = service_socket(log_dir / tag, service)
        stack.services[service] = ServiceProcess(service, f"bullseye_{service}", env, log_dir / tag, socket=socket)
    for service, callees in CALLS.items():
        process = stack.services[service]
        wired = {variable: stack.services[callee].socket_address for callee, variable in callees.items()}
        process.env = {**process.env, **wired}
    return stack
