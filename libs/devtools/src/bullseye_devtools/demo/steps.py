"""The demo, step by step: start the stack, make a key, generate traffic, send it, prove
idempotency, count the stream, write the report. `STEPS` is the order they run in."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats
from tqdm import tqdm

from bullseye_devtools.demo import report
from bullseye_devtools.demo.context import DemoContext
from bullseye_devtools.stack.local import LocalStack, create_api_key
from bullseye_devtools.traffic import generate, send, summarize

MARKER = ".bullseye-demo"  # only a folder carrying it is ever wiped
STREAM = "EVENTS"


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
    stack = LocalStack(ctx.options.data_dir)
    ctx.cleanup.callback(stack.stop)  # registered first: stopped even if start fails halfway
    ctx.stack = stack.start()


async def create_key(ctx: DemoContext) -> None:
    # Generous limits: the demo shows throughput; tests cover the rate limit itself.
    ctx.api_key = create_api_key(ctx.running().env, source="demo", rate=100_000, burst=20_000)


async def generate_traffic(ctx: DemoContext) -> None:
    opts = ctx.options
    ctx.events = list(generate(opts.shoppers, opts.seed))
    ctx.truth = summarize(ctx.events)
    ctx.sections += report.traffic_sections(ctx.truth, opts.shoppers, opts.seed)


async def send_traffic(ctx: DemoContext) -> None:
    address = ctx.running().ingestion_address
    with tqdm(total=len(ctx.events), unit="ev", desc="sending", file=sys.stderr, disable=None) as bar:
        ctx.sent = await send(ctx.events, address=address, api_key=ctx.api_key, on_batch=bar.update)
    ctx.sections.append(report.sending_section(ctx.sent))
    ctx.check("no event rejected", ctx.sent.rejected == 0, "; ".join(ctx.sent.rejections[:3]) or "0 rejected")


async def resend_slice(ctx: DemoContext) -> None:
    """The first events again, same ids: ingestion must answer DUPLICATE and store nothing."""
    again = ctx.events[: ctx.options.resend]
    ctx.resent = await send(again, address=ctx.running().ingestion_address, api_key=ctx.api_key)
    ok = ctx.resent.duplicates == len(again) and ctx.resent.accepted == 0
    detail = f"{len(again):,} resent: {ctx.resent.duplicates:,} duplicates, {ctx.resent.accepted:,} accepted"
    ctx.check("resent events come back as duplicates", ok, detail)


async def count_stream(ctx: DemoContext) -> None:
    client = await nats.connect(ctx.running().env["NATS_URL"])
    try:
        info = await client.jetstream().stream_info(STREAM)
    finally:
        await client.close()
    ctx.stream_messages = int(info.state.messages)
    accepted = (ctx.sent.accepted if ctx.sent else 0) + (ctx.resent.accepted if ctx.resent else 0)
    detail = f"{ctx.stream_messages:,} messages in {STREAM}, {accepted:,} accepted"
    ctx.check("stream messages = accepted", ctx.stream_messages == accepted, detail)


async def write_report(ctx: DemoContext) -> None:
    from bullseye_devtools.demo.plot import plot_funnel

    folder = ctx.options.report_dir
    folder.mkdir(parents=True, exist_ok=True)
    if ctx.truth is not None:
        ctx.files.append(plot_funnel(ctx.truth, folder / "demo-funnel.png"))
    markdown = folder / "demo.md"
    ctx.files.append(markdown)
    markdown.write_text(report.to_markdown(ctx))


STEPS: list[Step] = [
    Step("start NATS, PostgreSQL and ingestion", start_stack),
    Step("create an API key", create_key),
    Step("generate traffic", generate_traffic),
    Step("send it through ingestion", send_traffic),
    Step("resend a slice (idempotency)", resend_slice),
    Step("count the EVENTS stream", count_stream),
    Step("write the report", write_report),
]
