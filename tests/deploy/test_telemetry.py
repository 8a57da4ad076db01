"""Telemetry end to end, with the services as processes: one trace from a client's TrackBatch
through EVENTS into identity and through RESOLVED into profile, with the right parents (and
span links where a batch carries several traces); one trace across every call between
services (ingestion asks identity for data keys, profile asks identity to resolve, identity
asks ingestion to record a correction), each server span the child of its caller's client
span; JSON logs that carry trace and span ids and no personal data; and every metric a
dashboard or an alert rule uses, exported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import grpc
import promql_parser
import pytest
from bullseye.campaign.v1 import campaign_pb2 as apb
from bullseye.campaign.v1 import campaign_pb2_grpc as apb_grpc
from bullseye.campaign.v1 import definition_pb2 as cpb
from bullseye.events.v1 import event_pb2 as ev
from bullseye.identity.v1 import identity_pb2 as idpb
from bullseye.identity.v1 import identity_pb2_grpc as idpb_grpc
from bullseye.ingestion.v1 import ingestion_pb2 as ipb
from bullseye.ingestion.v1 import ingestion_pb2_grpc as ipb_grpc
from bullseye.profile.v1 import profile_pb2 as ppb
from bullseye.profile.v1 import profile_pb2_grpc as ppb_grpc
from bullseye.profile.v1 import segments_pb2 as sg
from bullseye.recommendation.v1 import recommendation_pb2 as rpb
from bullseye.recommendation.v1 import recommendation_pb2_grpc as rpb_grpc
from bullseye_devtools.sinks import ChannelSinks
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_devtools.stack.metrics import SAMPLE, by_label, scrape, total
from bullseye_platform.eventlog import StreamSpec, ensure_stream
from google.protobuf import duration_pb2
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from tests.channels import channel
from tests.conftest import create_key
from tests.deploy.charts import build, production_values, render
from tests.deploy.stack import STREAM_LIMIT, ExportedSpan, SpanReceiver, Stack, plan
from tests.deploy.traces import CLIENT, CONSUMER, SERVER, Sent, Step, Trace, descent, shown
from tests.identity.graph_support import ANON, USER, event, identified, ref, resolve, uid
from tests.platform.waiting import wait_until

INGESTION, IDENTITY = "/bullseye.ingestion.v1.IngestionService/", "/bullseye.identity.v1.IdentityService/"
TRACK_BATCH, APPEND_CORRECTIONS = f"{INGESTION}TrackBatch", f"{INGESTION}AppendCorrections"
ISSUE_DATA_KEYS, RESOLVE, MERGE = f"{IDENTITY}IssueDataKeys", f"{IDENTITY}Resolve", f"{IDENTITY}Merge"
GET_PROFILE = "/bullseye.profile.v1.ProfileService/GetProfile"
# Each chain from the client's call down, every span the child of the one before.
SEALING = [  # a TrackBatch with personal data: ingestion asks identity for the data key
    Step("ingestion", TRACK_BATCH, SERVER), Step("ingestion", ISSUE_DATA_KEYS, CLIENT),
    Step("identity", ISSUE_DATA_KEYS, SERVER),
]  # fmt: skip
READING = [  # GetProfile by identifier: profile asks identity whose it is
    Step("profile", GET_PROFILE, SERVER), Step("profile", RESOLVE, CLIENT), Step("identity", RESOLVE, SERVER),
]  # fmt: skip
MERGING = [  # an operator's Merge: recorded in EVENTS by ingestion, applied by identity, then by profile
    Step("identity", MERGE, SERVER), Step("identity", APPEND_CORRECTIONS, CLIENT),
    Step("ingestion", APPEND_CORRECTIONS, SERVER), Step("identity", "project identity", CONSUMER),
    Step("profile", "project profile", CONSUMER),
]  # fmt: skip
GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
PROMETHEUS_OWN = {"up"}  # series Prometheus makes itself for every target


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[SpanReceiver]:
    started = await SpanReceiver().start()
    yield started
    await started.stop()


@dataclass(frozen=True)
class Traffic:
    stack: Stack
    batches: list[Sent]  # the TrackBatch calls, in order
    personal: list[str]  # what no log may hold
    read: Trace  # a GetProfile by identifier
    merge: Trace  # an operator's Merge


@pytest.fixture(scope="module")
async def sinks() -> AsyncIterator[ChannelSinks]:
    started = await ChannelSinks().start()
    yield started
    await started.stop()


@pytest.fixture(scope="module")
async def traffic(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, receiver: SpanReceiver, stack_dir: Path,
    sinks: ChannelSinks, tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Traffic]:  # fmt: skip
    """Two batches stored while identity is down (so identity reads them in one batch: two
    traces in one span), then identity, profile and campaign, then personal data and consent, a
    rejected event, an undecodable record (a dead letter), a segment, reads and a campaign's
    message, then recommendation with a published model and a Recommend call; once all of it
    is through, a GetProfile by identifier and a Merge, each in a trace of its own: every
    metric has a reason to exist (a family app handed over: a value marked shared and an
    automatic split), and every call between services happens inside a client's trace."""
    stack = plan(nats_server, postgres, receiver, stack_dir / "telemetry", campaign=sinks.urls())
    ingestion = await asyncio.to_thread(stack.start, "ingestion")
    key = create_key(dict(ingestion.env), "--source", "telemetry")
    user, anon, tablet, loner = uid("user"), uid("anon"), uid("anon"), uid("anon")
    email, phone, name = f"{uid('jo')}@example.org", f"+3361{uuid.uuid4().int % 10**7:07d}", uid("Jo")
    first = Sent([event(anon=anon), event(anon=anon, user=user, logged_in=ev.LoggedIn())])
    app, handed_over = uid("device"), uid("anon")
    second = Sent([
        event(anon=tablet), event(anon=tablet, user=user, logged_in=ev.LoggedIn()),  # the tablet's person merges
        event(anon=anon, user=uid("user"), logged_in=ev.LoggedIn()),  # a second user id: a refused link
        event(anon=uid("anon"), device=app, user=user, logged_in=ev.LoggedIn()), event(anon=handed_over, device=app),
        event(anon=handed_over, device=app, user=uid("user"), logged_in=ev.LoggedIn()),  # the next member: healed
    ])  # fmt: skip
    consent = ev.ConsentChanged(purpose=ev.CONSENT_PURPOSE_MARKETING, channel=ev.CONTACT_CHANNEL_EMAIL, granted=True)
    third = Sent([identified(user=user, email=email, phone=phone, first_name=name),
                  event(anon=anon, user=user, consent_changed=consent), event(anon=loner)])  # fmt: skip
    wrong = identified(user=user, email=f"{email}@@", phone="not a phone", first_name=name)
    wrong.context.ip = "not an address"  # rejected (a bad email or phone alone is dropped, the event kept)
    started: list[str] = ["ingestion"]
    try:
        async with channel(ingestion.address) as ch:
            front = ipb_grpc.IngestionServiceStub(ch)
            for sent in (first, second):
                await track(front, key, sent)
            for service in ("identity", "profile", "campaign"):  # ingestion knew identity's socket before it listened
                await asyncio.to_thread(stack.start, service)
                started.append(service)
            await wait_until(lambda: reached(receiver, "profile", first), within=60)
            await track(front, key, third, also=[wrong])
        await nc.jetstream().publish(f"events{stack.tag}.0.page_viewed", b"\x0a\xff", stream=stack.events)
        segment = await read_and_segment(stack, user)
        await message_everyone(stack, segment)
        await wait_until(lambda: received(sinks), within=60)
        await ensure_stream(
            nc.jetstream(), StreamSpec(name=f"CATALOG_T{stack.tag}", subject_prefix=f"catalog{stack.tag}")
        )
        await asyncio.to_thread(stack.start, "recommendation")
        started.append("recommendation")
        await recommend_with_a_model(stack, tmp_path_factory.mktemp("interactions"))
        await wait_until(lambda: settled(nc, postgres, stack), within=60)
        read, merge = await read_and_merge(stack, user, loner)
    except Exception:
        print(stack.complaints())
        raise
    else:
        yield Traffic(stack, [first, second, third], [email, phone, name, f"{email}@@"], read, merge)
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


async def settled(nc: NATS, postgres: PostgresServer, stack: Stack) -> bool:
    """Nothing in flight, in the order things flow: identity has read all of EVENTS (the
    undecodable record set aside), relayed every fact it emitted, and profile has read all
    of RESOLVED. What comes next is then alone in its consumers' batches."""
    js = nc.jetstream()
    return (
        await consumed(js, stack.events)
        and await rows(postgres, f'"identity_t{stack.tag}".projection_dead_letters') == 1
        and await rows(postgres, f'"identity_t{stack.tag}".outbox') == 0
        and await consumed(js, f"RESOLVED_T{stack.tag}")
    )


async def consumed(js: JetStreamContext, stream: str) -> bool:
    """Every consumer of `stream` has been given and has acknowledged all of it."""
    consumers = await js.consumers_info(stream)
    return bool(consumers) and all(c.num_pending == 0 and c.num_ack_pending == 0 for c in consumers)


async def rows(postgres: PostgresServer, table: str) -> int:
    conn = await asyncpg.connect(postgres.dsn)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


async def read_and_merge(stack: Stack, user: str, loner: str) -> tuple[Trace, Trace]:
    """A client reads the user's profile by identifier, then an operator merges the loner's
    person into the user's; each call in a trace of its own."""
    read, merge = Trace(), Trace()
    by_user = idpb.IdentifierRef(type=idpb.IDENTIFIER_TYPE_USER_ID, value=user)
    async with channel(stack.services["profile"].address) as ch:
        profiles = ppb_grpc.ProfileServiceStub(ch)
        await profiles.GetProfile(ppb.GetProfileRequest(identifier=by_user), metadata=read.metadata, timeout=30)
    async with channel(stack.services["identity"].address) as ch:
        graph = idpb_grpc.IdentityServiceStub(ch)
        one, other = await resolve(graph, ref(USER, user)), await resolve(graph, ref(ANON, loner))
        request = idpb.MergeRequest(person_id=one, other_person_id=other, reason="one customer, two devices")
        await graph.Merge(request, metadata=merge.metadata, timeout=30)
    return read, merge


async def track(front: ipb_grpc.IngestionServiceStub, key: str, sent: Sent, *, also: list[ev.Event] = ()) -> None:
    request = ipb.TrackBatchRequest(events=[*sent.events, *also])
    reply = await front.TrackBatch(request, metadata=[("x-api-key", key), *sent.metadata], timeout=30)
    assert reply.result.accepted == len(sent.events) and reply.result.rejected == len(also), reply.result


async def received(sinks: ChannelSinks) -> bool:
    return bool(sinks.received)


async def message_everyone(stack: Stack, segment: str) -> None:
    """A broadcast to the segment over a webhook: a decision, a handoff and its facts."""
    content = cpb.Content(channel=cpb.CHANNEL_WEBHOOK, body='{"person": "{{ person_id }}"}')
    campaign = cpb.Campaign(
        name="telemetry", audience=cpb.Audience(segment_id=segment), entry=cpb.Entry(broadcast=cpb.Broadcast()),
        re_entry=cpb.ReEntry(policy=cpb.RE_ENTRY_POLICY_ONCE_EVER), channels=[cpb.CHANNEL_WEBHOOK],
        variants=[cpb.Variant(variant_id="a", weight=100, contents=[content])],
        goal=cpb.ConversionGoal(event=cpb.EventFilter(event_type="order_completed"),
                                attribution_window=duration_pb2.Duration(seconds=3600)),
    )  # fmt: skip
    async with channel(stack.services["campaign"].address) as ch:
        api = apb_grpc.CampaignServiceStub(ch)
        created = (await api.CreateCampaign(apb.CreateCampaignRequest(campaign=campaign))).campaign
        await api.LaunchCampaign(apb.LaunchCampaignRequest(campaign_id=created.campaign_id, expected_version=1))


async def read_and_segment(stack: Stack, user: str) -> str:
    async with channel(stack.services["profile"].address) as ch:
        api = ppb_grpc.ProfileServiceStub(ch)
        rule = sg.Rule(exists=sg.Exists(field="behaviour.first_seen"))
        made = await api.CreateSegment(sg.CreateSegmentRequest(segment=sg.Segment(name="everyone", rule=rule)))

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
    return made.segment.segment_id


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
    traffic: Traffic, receiver: SpanReceiver
) -> None:
    batches = traffic.batches
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


async def test_a_track_batch_with_personal_data_is_one_trace_through_identity_issuing_its_key(
    traffic: Traffic, receiver: SpanReceiver
) -> None:
    chain = await follow(receiver, traffic.batches[2], SEALING)

    assert len(chain) == len(SEALING), broken(receiver, traffic.batches[2], chain)


async def test_a_get_profile_by_identifier_is_one_trace_through_identity_resolving_it(
    traffic: Traffic, receiver: SpanReceiver
) -> None:
    chain = await follow(receiver, traffic.read, READING)

    assert len(chain) == len(READING), broken(receiver, traffic.read, chain)


async def test_a_merge_is_one_trace_through_ingestion_recording_it_and_both_consumers_applying_it(
    traffic: Traffic, receiver: SpanReceiver
) -> None:
    chain = await follow(receiver, traffic.merge, MERGING)

    assert len(chain) == len(MERGING), broken(receiver, traffic.merge, chain)
    applying, folding = chain[-2:]
    assert not applying.links and not folding.links, "each consumer's batch holds the merge's record alone"


async def follow(receiver: SpanReceiver, trace: Trace, steps: Sequence[Step]) -> list[ExportedSpan]:
    """The spans of `trace` along `steps`, each the child of the one before: all of them once
    they are exported, or as far as the trace goes after a minute."""

    async def complete() -> bool:
        return len(descent(receiver.spans, trace, steps)) == len(steps)

    with contextlib.suppress(TimeoutError):
        await wait_until(complete, within=60)
    return descent(receiver.spans, trace, steps)


def broken(receiver: SpanReceiver, trace: Trace, chain: list[ExportedSpan]) -> str:
    spans = shown([s for s in receiver.spans if s.trace_id == trace.trace_id])
    return f"the trace goes from the client's span through {shown(chain)} only; all its spans: {spans}"


async def test_log_lines_are_json_with_trace_ids_and_carry_no_personal_data(
    traffic: Traffic, receiver: SpanReceiver
) -> None:
    stack, batches, personal = traffic.stack, traffic.batches, traffic.personal
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


async def test_every_metric_a_dashboard_or_an_alert_uses_is_exported(traffic: Traffic, tmp_path: Path) -> None:
    stack = traffic.stack
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
    assert by_label(identity, "identity_merges_total", "reason") == {"identifier-shared": 1.0, "manual": 1.0}
    assert by_label(identity, "identity_automatic_splits_total", "reason") == {"contradicted": 1.0}
    assert by_label(identity, "identity_shared_values_total", "type") == {"anonymous_id": 1.0, "device_id": 1.0}
    campaign = await asyncio.to_thread(scrape, f"http://127.0.0.1:{stack.metrics['campaign']}/metrics")
    runs = by_label(campaign, "jobs_run_total", "queue")
    assert runs.get("campaign-send", 0) >= 1 and runs.get("campaign-handoff", 0) >= 1, runs  # the broadcast's


async def exported(stack: Stack) -> set[str]:
    names = set()
    for port in stack.metrics.values():
        text = await asyncio.to_thread(scrape, f"http://127.0.0.1:{port}/metrics")
        names |= {m["name"] for line in text.splitlines() if (m := SAMPLE.match(line))}
    return names
