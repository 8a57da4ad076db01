"""The demo, step by step: start the stack, make a key, generate traffic, send it, prove
idempotency, resolve identities (journeys with ground truth), fold profiles and size
segments, train and serve recommendations, count the stream, write the report. `STEPS` is
the order they run in."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import nats
from bullseye.events.v1 import event_pb2 as ev
from tqdm import tqdm

from bullseye_devtools.demo import (
    campaign_report,
    campaigns,
    identity_report,
    profile_report,
    profiles,
    recommendations,
    report,
)
from bullseye_devtools.demo.context import DemoContext
from bullseye_devtools.quality.resolved import Resolution
from bullseye_devtools.quality.run import Pipeline, QualityRun, send_and_score
from bullseye_devtools.stack.local import LocalStack, create_api_key
from bullseye_devtools.traffic import SendOptions, generate, send, summarize
from bullseye_devtools.traffic.catalog import build_catalog
from bullseye_devtools.traffic.catalog_feed import catalog_changes
from bullseye_devtools.traffic.catalog_feed import publish_catalog as publish_catalog_changes
from bullseye_devtools.traffic.journeys import generate_journeys
from bullseye_devtools.traffic.realistic import generate_realistic

MARKER = ".bullseye-demo"  # only a folder carrying it is ever wiped
STREAM, CATALOG = "EVENTS", "CATALOG"
# The traffic reaches back `DemoOptions.days`, past ingestion's live window: backfill.
BACKFILL = SendOptions(backfill=True)


@dataclass(frozen=True)
class Step:
    title: str
    run: Callable[[DemoContext], Awaitable[None]]


def _fresh(ctx: DemoContext) -> None:
    """Each run starts empty so that stream counts compare with this run's sends alone."""
    folder = ctx.options.data_dir
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise RuntimeError(f"{folder} is not empty and was not made by the demo; choose another --data-dir")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).touch()


# Blocking calls below run on the loop on purpose: nothing else runs yet, and a Ctrl-C then
# cancels the demo at the next await, after the call has finished, never halfway through it.


async def start_stack(ctx: DemoContext) -> None:
    _fresh(ctx)
    # Profile's clock pinned to the traffic's end: every figure measures from the same instant.
    clock = {"PROFILE_FIXED_NOW": ctx.now.isoformat()}
    stack = LocalStack(ctx.options.data_dir, with_profile=True, profile_settings=clock, with_campaign=True,
                       with_recommendation=True)  # fmt: skip
    ctx.cleanup.callback(stack.stop)  # registered first: stopped even if start fails halfway
    ctx.stack = stack.start()


async def create_key(ctx: DemoContext) -> None:
    # Generous limits: the demo shows throughput; tests cover the rate limit itself.
    ctx.api_key = create_api_key(ctx.running().env, source="demo", rate=100_000, burst=20_000, backfill=True)


async def publish_catalog(ctx: DemoContext) -> None:
    """The catalog the shoppers browse, from a catalog feed's key, on its own stream (CATALOG)."""
    stack = ctx.running()
    key = create_api_key(stack.env, source="demo-catalog", rate=100_000, burst=20_000, catalog=True)
    opts = ctx.options
    changes = catalog_changes(build_catalog(opts.seed), at=ctx.now - timedelta(days=opts.days, hours=1))
    published = await publish_catalog_changes(changes, address=stack.ingestion_address, api_key=key)
    stored = await _stream_messages(stack.env["NATS_URL"], CATALOG)
    detail = f"{published.accepted:,} of {len(changes):,} items accepted, {stored:,} messages in {CATALOG}"
    ctx.check("every catalog item published on CATALOG", published.accepted == len(changes) == stored, detail)


async def _stream_messages(nats_url: str, stream: str) -> int:
    client = await nats.connect(nats_url)
    try:
        return int((await client.jetstream().stream_info(stream)).state.messages)
    finally:
        await client.close()


async def generate_traffic(ctx: DemoContext) -> None:
    opts = ctx.options
    ctx.events = list(generate(opts.shoppers, opts.seed, now=ctx.now, days=opts.days))
    ctx.truth = summarize(ctx.events)
    ctx.sections += report.traffic_sections(ctx.truth, opts.shoppers, opts.seed)


async def send_traffic(ctx: DemoContext) -> None:
    address = ctx.running().ingestion_address
    with tqdm(total=len(ctx.events), unit="ev", desc="sending", file=sys.stderr, disable=None) as bar:
        ctx.sent = await send(ctx.events, address=address, api_key=ctx.api_key, options=BACKFILL, on_batch=bar.update)
    ctx.sections.append(report.sending_section(ctx.sent))
    ctx.check("no event rejected", ctx.sent.rejected == 0, "; ".join(ctx.sent.rejections[:3]) or "0 rejected")


async def resend_slice(ctx: DemoContext) -> None:
    """The first events again, same ids: ingestion must answer DUPLICATE and store nothing."""
    again = ctx.events[: ctx.options.resend]
    ctx.resent = await send(again, address=ctx.running().ingestion_address, api_key=ctx.api_key, options=BACKFILL)
    ok = ctx.resent.duplicates == len(again) and ctx.resent.accepted == 0
    detail = f"{len(again):,} resent: {ctx.resent.duplicates:,} duplicates, {ctx.resent.accepted:,} accepted"
    ctx.check("resent events come back as duplicates", ok, detail)


def _accepted(ctx: DemoContext) -> int:
    sends = (ctx.sent, ctx.resent, *(run.sent for run in _runs(ctx)))
    return sum(stats.accepted for stats in sends if stats is not None)


def _pipeline(stack: LocalStack, source: str) -> Pipeline:
    key = create_api_key(stack.env, source=source, rate=100_000, burst=20_000, backfill=True)
    return Pipeline(
        ingestion_address=stack.ingestion_address, api_key=key, nats_url=stack.env["NATS_URL"],
        identity_metrics_url=stack.identity_metrics_url,
    )  # fmt: skip


async def resolve_identities(ctx: DemoContext) -> None:
    """Journeys with ground truth through ingestion; identity resolves them and all the traffic."""
    stack, before = ctx.running(), _accepted(ctx)
    pipeline = _pipeline(stack, "demo-journeys")
    # Shoppers after the traffic's (even: households are pairs of numbers), so that no phone,
    # email or household tablet is in both.
    first = ctx.options.shoppers + ctx.options.shoppers % 2
    journeys = generate_journeys(ctx.options.journeys, ctx.options.seed, now=ctx.now, first=first)
    with tqdm(total=len(journeys.events), unit="ev", desc="journeys", file=sys.stderr, disable=None) as bar:
        run = await send_and_score(journeys, pipeline, resolved_before=before, on_batch=bar.update)
    ctx.identity = run
    ctx.sections += report.identity_sections(run)
    ctx.sections.append(identity_report.trap_section("Identity quality per trap (cross-device journeys)", run))
    resolved, expected = len(run.resolution.person_of), before + run.sent.accepted
    ctx.check("every accepted event resolved once", resolved == expected, f"{resolved:,} of {expected:,} resolved")
    q = run.quality
    ctx.check("no stranger merged (precision 1.000)", q.precision == 1.0, f"pairwise precision {q.precision:.4f}")
    ctx.check("recall >= 0.99 of what the rules can link", q.recall >= 0.99, f"pairwise recall {q.recall:.4f}")


async def resolve_realistic(ctx: DemoContext) -> None:
    """Realistic journeys (issue 17's situations) after the others; scored, not checked: the
    resolver they ask for is still to come."""
    stack, before = ctx.running(), _accepted(ctx)
    if not ctx.options.realistic:
        return
    # Shoppers after the traffic's and the journeys' (even: households are pairs of numbers).
    first = ctx.options.shoppers + ctx.options.shoppers % 2 + ctx.options.journeys + ctx.options.journeys % 2
    journeys = generate_realistic(ctx.options.realistic, ctx.options.seed, now=ctx.now, first=first)
    with tqdm(total=len(journeys.events), unit="ev", desc="realistic", file=sys.stderr, disable=None) as bar:
        run = await send_and_score(journeys, _pipeline(stack, "demo-realistic"), resolved_before=before,
                                   on_batch=bar.update)  # fmt: skip
    ctx.realistic = run
    ctx.sections += identity_report.realistic_sections(run)
    resolved, expected = len(run.resolution.person_of), before + run.sent.accepted
    ctx.check("every accepted realistic event resolved once", resolved == expected, f"{resolved:,} of {expected:,}")


def _runs(ctx: DemoContext) -> list[QualityRun]:
    return [run for run in (ctx.identity, ctx.realistic) if run is not None]


def _all_events(ctx: DemoContext) -> list[ev.Event]:
    return [*ctx.events, *(event for run in _runs(ctx) for event in run.journeys.events)]


def _orders_sent(ctx: DemoContext) -> int:
    return sum(event.WhichOneof("payload") == "order_completed" for event in _all_events(ctx))


def _shoppers(ctx: DemoContext, resolution: Resolution) -> set[str]:
    """The persons identity resolved a shopper's event to."""
    final = resolution.final()
    return {final[event.event_id] for event in _all_events(ctx) if event.event_id in final}


async def fold_profiles(ctx: DemoContext) -> None:
    """Profile folds RESOLVED; then RFM, the demo's audiences and every person's profile."""
    stack = ctx.running()
    if not _runs(ctx):
        raise RuntimeError("identities must be resolved first")
    persons = _shoppers(ctx, _runs(ctx)[-1].resolution)  # the latest read of RESOLVED holds everything
    client = await nats.connect(stack.env["NATS_URL"])
    try:
        ctx.profiles = await profiles.collect(
            stack.profile_address, client.jetstream(), persons, operator=stack.operator()
        )
    finally:
        await client.close()
    ctx.sections += profile_report.profile_sections(ctx.profiles, now=ctx.now, days=ctx.options.days)
    ctx.checks += profile_report.profile_checks(ctx.profiles, orders_sent=_orders_sent(ctx))


async def recommend(ctx: DemoContext) -> None:
    """Recommendation folds the same RESOLVED (and CATALOG); its train command trains on it and
    publishes; then three shoppers' recommendations, with their reasons."""
    stack = ctx.running()
    client = await nats.connect(stack.env["NATS_URL"])
    try:
        figures = await recommendations.collect(stack, client.jetstream(), _all_events(ctx))
    finally:
        await client.close()
    ctx.sections += recommendations.sections(figures)
    ctx.checks += recommendations.checks(figures)


async def run_campaigns(ctx: DemoContext) -> None:
    """An abandoned-cart trigger and an A/B broadcast with a holdout and a staged rollout, then
    simulated recipients (a true effect for one variant), measured by the campaign service."""
    stack = ctx.running()
    persons = _shoppers(ctx, _runs(ctx)[-1].resolution)
    ctx.campaigns = await campaigns.run(stack, ctx.api_key, seed=ctx.options.seed, persons=sorted(persons))
    ctx.sections += [campaign_report.cart_section(ctx.campaigns), *campaign_report.sale_sections(ctx.campaigns)]
    assert stack.sinks is not None
    ctx.checks += campaign_report.checks(ctx.campaigns, stack.sinks.received)


async def count_stream(ctx: DemoContext) -> None:
    ctx.stream_messages = await _stream_messages(ctx.running().env["NATS_URL"], STREAM)
    accepted = _accepted(ctx)
    detail = f"{ctx.stream_messages:,} messages in {STREAM}, {accepted:,} accepted"
    ctx.check("stream messages = accepted", ctx.stream_messages == accepted, detail)


async def write_report(ctx: DemoContext) -> None:
    from bullseye_devtools.demo.plot import plot_campaign, plot_funnel, plot_profiles

    folder = ctx.options.report_dir
    folder.mkdir(parents=True, exist_ok=True)
    if ctx.truth is not None:
        ctx.files.append(plot_funnel(ctx.truth, folder / "demo-funnel.png"))
    if ctx.profiles is not None:
        ctx.files.append(plot_profiles(ctx.profiles, folder / "demo-profiles.png"))
    if ctx.campaigns is not None and ctx.campaigns.report is not None:
        ctx.files.append(plot_campaign(ctx.campaigns.report, folder / "demo-campaign.png"))
    markdown = folder / "demo.md"
    ctx.files.append(markdown)
    markdown.write_text(report.to_markdown(ctx))


STEPS: list[Step] = [
    Step("start NATS, PostgreSQL, identity, profile, ingestion, recommendation and campaign", start_stack),
    Step("create an API key", create_key),
    Step("publish the catalog (its own stream)", publish_catalog),
    Step("generate traffic", generate_traffic),
    Step("send it through ingestion", send_traffic),
    Step("resend a slice (idempotency)", resend_slice),
    Step("resolve identities (journeys with ground truth)", resolve_identities),
    Step("resolve realistic journeys (households, kiosks, placeholders, ...)", resolve_realistic),
    Step("fold profiles, recompute RFM, create segments", fold_profiles),
    Step("train a recommendation model on the traffic, publish it, recommend for three shoppers", recommend),
    Step("count the EVENTS stream", count_stream),
    Step("run campaigns: an abandoned cart trigger, an A/B broadcast with holdout and rollout", run_campaigns),
    Step("write the report", write_report),
]
