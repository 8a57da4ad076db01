"""Impressions: every answer a `served` fact on RECO, written off the call path; the
experiment report's CTR and conversion per variant from the events that carry a
recommendation id; and a process killed before it wrote its batch, its answers counted lost.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from bullseye.recommendation.v1 import facts_pb2
from bullseye.recommendation.v1 import recommendation_pb2 as pb
from bullseye_devtools.stack import NatsServer, PostgresServer
from nats.aio.client import Client as NATS

from tests.platform.waiting import wait_until
from tests.recommendation import shop, support, synthetic


@pytest.fixture(scope="module")
async def running(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> AsyncIterator[support.RecommendationUnderTest]:
    started = await support.start_recommendation(
        nc, nats_server, postgres, stack_dir / "impressions", RECOMMENDATION_VARIANTS="control=1,hybrid=1"
    )
    try:
        await shop.stock(started)
        yield started
    finally:
        await support.stop_recommendation(started)


async def report(running: support.RecommendationUnderTest, placement: str = "") -> dict[str, pb.VariantReport]:
    request = pb.GetExperimentReportRequest(placement=placement)
    getattr(request, "from").FromDatetime(support.START.replace(year=2000))  # whatever the service's clock says
    request.to.FromDatetime(support.START.replace(year=2100))
    return {v.variant: v for v in (await running.api.GetExperimentReport(request)).variants}


async def _reported(running: support.RecommendationUnderTest, placement: str, *, impressions: int = 0,
                    lost: int = 0) -> bool:  # fmt: skip
    """Whether the report counts that many impressions (and lost ones) in `placement` yet."""
    figures = (await report(running, placement)).values()
    return (sum(f.impressions for f in figures), sum(f.impressions_lost for f in figures)) == (impressions, lost)


async def served_messages(nc: NATS, running: support.RecommendationUnderTest) -> list[bytes]:
    """Every `served` message on the process's RECO stream."""
    stream = running.env["RECOMMENDATION_STREAM"]
    state = (await nc.jetstream().stream_info(stream)).state
    found = []
    for seq in range(state.first_seq, state.last_seq + 1):
        message = await nc.jetstream().get_msg(stream, seq)
        if message.subject and message.subject.endswith(".served") and message.data:
            found.append(message.data)
    return found


async def served_facts(nc: NATS, running: support.RecommendationUnderTest) -> list[facts_pb2.Served]:
    """Every `served` fact on the process's RECO stream."""
    found = []
    for data in await served_messages(nc, running):
        batch = facts_pb2.RecoRecord.FromString(data).served.impressions
        assert len(batch) > 0
        found += batch
    return found


async def test_every_answer_is_a_served_fact_on_reco(nc: NATS, running: support.RecommendationUnderTest) -> None:
    before = datetime.now(UTC)
    answers = [await running.recommend(f"viewer-{n}", k=3, context=pb.Context(placement="facts")) for n in range(30)]
    after = datetime.now(UTC)
    await wait_until(lambda: _reported(running, "facts", impressions=30), within=30)

    facts = {f.recommendation_id: f for f in await served_facts(nc, running)}

    for answer in answers:
        fact = facts[answer.recommendation_id]
        assert fact.person_id == answer.person_id and fact.variant == answer.variant and fact.placement == "facts"
        assert [i.item_id for i in fact.items] == [i.item_id for i in answer.items]
        assert fact.model_version == answer.model_version
        assert before - timedelta(seconds=1) <= fact.served_at.ToDatetime(tzinfo=UTC) <= after + timedelta(seconds=1)
    assert (await report(running, "facts")).keys() <= {"control", "hybrid"}
    assert sum(v.impressions for v in (await report(running, "facts")).values()) == 30


async def test_a_batch_of_long_answers_is_split_into_messages_the_stream_takes(
    nc: NATS, running: support.RecommendationUnderTest
) -> None:
    """A hundred answers of sixty items each are ~100 kB as facts: more than one RECO message
    may hold (64 KiB), so the batch travels as several, and none is refused."""
    await running.restart(RECOMMENDATION_IMPRESSION_FLUSH="1h", RECOMMENDATION_IMPRESSION_BATCH="100")
    try:
        answers = [await running.recommend(f"long-{n}", k=synthetic.ITEMS, context=pb.Context(placement="long"))
                   for n in range(100)]  # fmt: skip
        await wait_until(lambda: _reported(running, "long", impressions=100), within=30)
    finally:
        await running.restart(RECOMMENDATION_IMPRESSION_FLUSH="0.2", RECOMMENDATION_IMPRESSION_BATCH="500")

    assert all(len(a.items) == synthetic.ITEMS for a in answers)
    messages = await served_messages(nc, running)
    assert {a.recommendation_id for a in answers} <= {f.recommendation_id for f in await served_facts(nc, running)}
    assert max(len(data) for data in messages) <= 64 * 1024


async def test_the_report_gives_ctr_and_conversion_per_variant(
    nc: NATS, running: support.RecommendationUnderTest
) -> None:
    answers = [await running.recommend(f"shopper-{n}", k=3, context=pb.Context(placement="home")) for n in range(40)]
    clicks, orders = answers[:20], answers[:6]
    for n, answer in enumerate(clicks):
        item = answer.items[0].item_id
        events = [support.viewed(item, support.at(n), recommendation_id=answer.recommendation_id)]
        events += [support.viewed(item, support.at(n + 1), recommendation_id=answer.recommendation_id)]  # twice: once
        if answer in orders:
            events.append(support.ordered([item], support.at(n + 2), recommendation_id=answer.recommendation_id))
        await running.events.events(answer.person_id, *events)
    await wait_until(lambda: _reported(running, "home", impressions=40), within=30)
    await running.caught_up()

    got = await report(running, "home")

    shown = Counter(a.variant for a in answers)
    for variant, figures in got.items():
        clicked = sum(a.variant == variant for a in clicks)
        bought = sum(a.variant == variant for a in orders)
        assert (figures.impressions, figures.clicks, figures.orders) == (shown[variant], clicked, bought)
        assert figures.ctr == pytest.approx(clicked / shown[variant])
        assert figures.conversion_rate == pytest.approx(bought / shown[variant])
    assert set(got) == set(shown) == {"control", "hybrid"}


async def test_a_process_killed_before_writing_its_batch_has_its_answers_counted_lost(
    nc: NATS, running: support.RecommendationUnderTest
) -> None:
    await running.restart(RECOMMENDATION_IMPRESSION_FLUSH="1h", RECOMMENDATION_IMPRESSION_BATCH="1000")
    answers = [await running.recommend(f"lost-{n}", k=2, context=pb.Context(placement="lost")) for n in range(25)]
    assert running.service.proc is not None
    running.service.proc.send_signal(signal.SIGKILL)
    running.service.proc.wait()

    await running.restart(RECOMMENDATION_IMPRESSION_FLUSH="0.2", RECOMMENDATION_IMPRESSION_BATCH="500")
    await wait_until(lambda: _reported(running, "lost", lost=25), within=30)

    got = await report(running, "lost")
    lost = Counter(a.variant for a in answers)
    assert {v: f.impressions_lost for v, f in got.items()} == dict(lost)
    assert all(f.impressions == 0 for f in got.values())
