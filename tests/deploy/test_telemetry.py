"""Telemetry end to end, with the services as processes: one trace from a client's TrackBatch
through EVENTS into identity and through RESOLVED into profile, with the right parents (and
span links where a batch carries several traces); JSON logs that carry trace and span ids
and no personal data; and every metric a dashboard or an alert rule uses, exported.

(The hop through service-to-service gRPC calls joins the trace with the shared client
factory, docs/design.md D5; this module covers the log path.)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import grpc
import promql_parser
import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as idpb
from bullseye.ingestion.v1 import ingestion_pb2 as ipb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ipb_grpc
from bullseye.profile.v1 import profile_pb2 as ppb
from bullseye.profile.v1 import profile_pb2_grpc as ppb_grpc
from bullseye.profile.v1 import segments_pb2 as sg
from bullseye.recommendation.v1 import recommendation_pb2 as rpb
from bullseye.recommendation.v1 import recommendation_pb2_grpc as rpb_grpc
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.metrics import SAMPLE, by_label, scrape, total
from bullseye_platform.eventlog import StreamSpec, ensure_stream
from nats.aio.client import Client as NATS

from tests.channels import channel
from tests.conftest import create_key
from tests.deploy.charts import build, production_values, render
from tests.deploy.stack import STREAM_LIMIT, ExportedSpan, SpanReceiver, Stack, plan
from tests.identity.graph_support import event, identified, uid
from tests.platform.waiting import wait_until

TRACK_BATCH = "/bullseye.ingestion.v1.IngestionService/TrackBatch"
GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
PROMETHEUS_OWN = {"up"}  # series Prometheus makes itself for every target


class Sent:
    """One TrackBatch a client sent inside a trace of its own."""

    def __init__(self, events: list[ev.Event]) -> None:
        self.events = events
        self.trace_id, self.client_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]

    @property
    def metadata(self) -> list[tuple[str, str]]:
        return [("traceparent", f"00-{self.trace_id}-{self.client_span}-01")]


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[SpanReceiver]:
    started = await SpanReceiver().start()
    yield started
    await started.stop()


@pytest.fixture(scope="module")
async def traffic(
    nc: NATS,
    nats_server: NatsServer,
    postgres: PostgresServer,
    receiver: SpanReceiver,
    stack_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Stack, list[Sent], list[str]]]:
    """Two batches stored while identity is down (so identity reads them in one batch: two
    traces in one span), then identity and profile, then personal data, a rejected event, an
    undecodable record (a dead letter), a segment and a read, then recommendation with a published
    model and a Recommend call: every metric has a reason to exist."""
    stack = plan(nats_server, postgres, receiver, stack_dir / "telemetry")
    ingestion = await asyncio.to_thread(stack.start, "ingestion")
    key = create_key(dict(ingestion.env), "--source", "telemetry")
    user, anon, tablet = uid("user"), uid("anon"), uid("anon")
    email, phone, name = f"{uid('jo')}@example.org", f"+3361{uuid.uuid4().int % 10**7:07d}", uid("Jo")
    first = Sent([event(anon=anon), event(anon=anon, user=user, logged_in=ev.LoggedIn())])
    second = Sent([
        event(anon=tablet), event(anon=tablet, user=user, logged_in=ev.LoggedIn()),  # the tablet's person merges
        event(anon=anon, user=uid("user"), logged_in=ev.LoggedIn()),  # a second user id: a refused link
    ])  # fmt: skip
    third = Sent([identified(user=user, email=email, phone=phone, first_name=name)])
    wrong = identified(user=user, email=f"{email}@@", phone="not a phone", first_name=name)
    started: list[str] = ["ingestion"]
    try:
        async with channel(ingestion.address) as ch:
            front = ipb_grpc.IngestionServiceStub(ch)
            for sent in (first, second):
                await track(front, key, sent)
            for service in ("identity", "profile"):  # ingestion knew identity's socket before it listened
                await asyncio.to_thread(stack.start, service)
                started.append(service)
            await wait_until(lambda: reached(receiver, "profile", first), within=60)
            await track(front, key, third, also=[wrong])
        await nc.jetstream().publish(f"events{stack.tag}.0.page_viewed", b"\x0a\xff", stream=stack.events)
        await read_and_segment(stack, user)
        await ensure_stream(
            nc.jetstream(), StreamSpec(name=f"CATALOG_T{stack.tag}", subject_prefix=f"catalog{stack.tag}")
        )
        await asyncio.to_thread(stack.start, "recommendation")
        started.append("recommendation")
        await recommend_with_a_model(stack, tmp_path_factory.mktemp("interactions"))
        await wait_until(lambda: set_aside(postgres, stack), within=60)
        yield stack, [first, second, third], [email, phone, name, f"{email}@@"]
    finally:
        for service in reversed(started):
            await asyncio.to_thread(stack.services[service].stop)


async def recommend_with_a_model(stack: Stack, folder: Path) -> None:
    """A model trained by the file trainer, registered and published by the service's command;
    then, once the process swapped to it, a Recommend call (answers, impressions, the cache)."""
    process = stack.services["recommendation"]
    lines = ["person\titem\torder", *(f"p{n}\ti{(n + step) % 9}\t{step}" for n in range(30) for step in range(4))]
    (folder / "interactions.tsv").write_text("\n".join(lines) + "\n")
    storage = Path(process.env["RECOMMENDATION_MODEL_DIR"])
    train = [sys.executable, "-m", "bullseye_recommendation.train", "--interactions", str(folder / "interactions.tsv"),
             "--output", str(storage / "telemetry-v1")]  # fmt: skip
    register = [sys.executable, "-m", "bullseye_recommendation", "register", "telemetry-v1", "--publish"]
    for argv in (train, register):
        done = await asyncio.to_thread(subprocess.run, argv, env={**os.environ, **process.env}, capture_output=True,
                                       text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]

    async def swapped() -> bool:
        text = await asyncio.to_thread(scrape, f"http://127.0.0.1:{process.metrics_port}/metrics")
        return by_label(text, "recommendation_model_info", "version").get("telemetry-v1") == 1

    await wait_until(swapped, within=60)
    async with channel(process.address) as ch:  # a shopper it knows nothing of: a cold start
        await rpb_grpc.RecommendationServiceStub(ch).Recommend(rpb.RecommendRequest(person_id="p1", k=3))


async def set_aside(postgres: PostgresServer, stack: Stack) -> bool:
    """Identity has set the undecodable record aside."""
    conn = await asyncpg.connect(postgres.dsn)
    try:
        return bool(await conn.fetchval(f'SELECT count(*) FROM "identity_t{stack.tag}".projection_dead_letters'))
    finally:
        await conn.close()


async def track(front: ipb_grpc.IngestionServiceStub, key: str, sent: Sent, *, also: list[ev.Event] = ()) -> None:
    request = ipb.TrackBatchRequest(events=[*sent.events, *also])
    reply = await front.TrackBatch(request, metadata=[("x-api-key", key), *sent.metadata], timeout=30)
    assert reply.result.accepted == len(sent.events) and reply.result.rejected == len(also), reply.result


async def read_and_segment(stack: Stack, user: str) -> None:
    async with channel(stack.services["profile"].address) as ch:
        api = ppb_grpc.ProfileServiceStub(ch)
        rule = sg.Rule(exists=sg.Exists(field="behaviour.first_seen"))
        await api.CreateSegment(sg.CreateSegmentRequest(segment=sg.Segment(name="everyone", rule=rule)))

        by_user = ppb.GetProfileRequest(identifier=idpb.IdentifierRef(type=idpb.IDENTIFIER_TYPE_USER_ID, value=user))

        async def profiled() -> bool:  # through identity's Resolve, then the profile's read
            try:
                await api.GetProfile(by_user)
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                return False
            return True

        await wait_until(profiled, within=60)


def ingestion_span(receiver: SpanReceiver, sent: Sent) -> ExportedSpan | None:
    found = [s for s in receiver.spans if s.trace_id == sent.trace_id and s.name == TRACK_BATCH]
    return found[0] if found else None


def reaching(spans: list[ExportedSpan], service: str, ancestors: set[str]) -> list[ExportedSpan]:
    """The spans of `service` whose parent, or one of whose links, is one of `ancestors`."""
    return [s for s in spans if s.service == service and (s.parent_id in ancestors or ancestors & set(s.links))]


async def reached(receiver: SpanReceiver, service: str, sent: Sent) -> bool:
    front = ingestion_span(receiver, sent)
    if front is None:
        return False
    ancestors = {front.span_id}
    identity = reaching(receiver.spans, "identity", ancestors)
    if service == "identity":
        return bool(identity)
    ancestors |= {s.span_id for s in identity if s.trace_id == sent.trace_id}
    return bool(reaching(receiver.spans, "profile", ancestors))


async def test_one_trace_spans_ingestion_identity_and_profile_with_correct_parents(
    traffic: tuple[Stack, list[Sent], list[str]], receiver: SpanReceiver
) -> None:
    _, batches, _ = traffic
    first = batches[0]
    for sent in batches:  # every client's trace reaches both consumers, as parent or as link
        await wait_until(lambda sent=sent: reached(receiver, "profile", sent), within=60)  # type: ignore[misc]
    front = ingestion_span(receiver, first)
    assert front is not None and front.service == "ingestion" and front.parent_id == first.client_span
    in_trace = [s for s in receiver.spans if s.trace_id == first.trace_id]
    [resolving] = [s for s in in_trace if s.service == "identity" and s.parent_id == front.span_id]
    assert resolving.name.startswith("project identity")
    folding = [s for s in in_trace if s.service == "profile" and s.parent_id == resolving.span_id]
    assert folding and folding[0].name == "project profile", "profile's span is the child of identity's"
    second_front = ingestion_span(receiver, batches[1])
    assert second_front is not None and second_front.span_id in resolving.links, "one batch, two traces: a link"


async def test_log_lines_are_json_with_trace_ids_and_carry_no_personal_data(
    traffic: tuple[Stack, list[Sent], list[str]], receiver: SpanReceiver
) -> None:
    stack, batches, personal = traffic
    front = ingestion_span(receiver, batches[0])
    assert front is not None
    logs = {service: stack.log(service) for service in stack.services}
    entries = [json.loads(line) for text in logs.values() for line in text.splitlines() if line.startswith("{")]
    assert len(entries) > 10
    calls = [e for e in entries if e.get("method") == TRACK_BATCH and e.get("trace_id") == batches[0].trace_id]
    assert calls and calls[0]["span_id"] == front.span_id, "the call's log line names its trace and span"
    assert [e for e in entries if e["level"] == "error" and "set aside" in e["msg"]], "the dead letter is logged"
    for service, text in logs.items():
        for secret in personal:
            assert secret not in text, f"{service}'s log holds personal data"
    assert not [s for s in receiver.spans for secret in personal if secret in s.name]


def expressions() -> list[str]:
    """Every PromQL expression of the dashboards (Grafana's variables given values) and alert rules."""
    found = []
    for dashboard in GRAFANA.glob("*.json"):
        model = json.loads(dashboard.read_text())
        found += [t["expr"] for panel in model["panels"] for t in panel.get("targets", [])]
        found += [v["query"]["query"] for v in model["templating"]["list"] if v["type"] == "query"]
    return [re.sub(r"\$__rate_interval", "5m", re.sub(r"\$(namespace|datasource)", "x", e)) for e in found]


def metric_names(expression: str) -> set[str]:
    values = re.fullmatch(r"label_values\((\w+), *\w+\)", expression)
    if values:
        return {values[1]}
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expression), visit)
    return names


async def test_every_metric_a_dashboard_or_an_alert_uses_is_exported(
    traffic: tuple[Stack, list[Sent], list[str]], tmp_path: Path
) -> None:
    stack, _, _ = traffic
    charts = build(tmp_path)
    rules = [r["expr"] for rule in render(charts, "bullseye", production_values()).of_kind("PrometheusRule")
             for group in rule["spec"]["groups"] for r in group["rules"]]  # fmt: skip
    used = {name for expression in [*expressions(), *rules] for name in metric_names(expression)}
    assert len(used) > 20 and len(rules) > 20

    async def everything_exported() -> bool:
        return not used - PROMETHEUS_OWN - await exported(stack)

    try:
        await wait_until(everything_exported, within=60)
    except TimeoutError:
        pytest.fail(f"used by dashboards or alerts but not exported: {sorted(used - await exported(stack))}")
    identity = await asyncio.to_thread(scrape, f"http://127.0.0.1:{stack.metrics['identity']}/metrics")
    assert total(identity, "projection_dead_letters_total") == 1, "the undecodable record"
    assert total(identity, "leadership_leading") == 1
    assert by_label(identity, "stream_limit_bytes", "stream") == {f"RESOLVED_T{stack.tag}": float(STREAM_LIMIT)}
    assert by_label(identity, "identity_merges_total", "reason") == {"identifier-shared": 1.0}


async def exported(stack: Stack) -> set[str]:
    names = set()
    for port in stack.metrics.values():
        text = await asyncio.to_thread(scrape, f"http://127.0.0.1:{port}/metrics")
        names |= {m["name"] for line in text.splitlines() if (m := SAMPLE.match(line))}
    return names
