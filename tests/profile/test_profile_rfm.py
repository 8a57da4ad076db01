"""RFM quintile scores, named segments, the durable schedule and the high-value tag.

A population of five purchasers whose scores are worked out by hand (n = 5, so a score is
1 + the number of purchasers strictly worse on that dimension):

    person  recency  orders  net revenue   R F M   segment
    a          1 d      5        500        5 5 5   champions
    b         10 d      1         20        3 1 2   need attention
    c         10 d      3   300 - 100       3 3 4   need attention  (recency tie with b)
    d        100 d      4         50        2 4 3   at risk
    e        300 d      1         10        1 1 1   lost
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from bullseye.events.v1 import event_pb2 as ev
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye_devtools.stack import NatsServer, PostgresServer
from nats.aio.client import Client as NATS

from tests.platform.waiting import wait_until
from tests.profile.support import NOW, ProfileUnderTest, ago, event, order, start_profile, stop_profile, usd

S = pb.RfmSegment
POPULATION = {  # person: (days since last order, orders, revenue)
    "a": (1, 5, 500.0),
    "b": (10, 1, 20.0),
    "c": (10, 3, 300.0),
    "d": (100, 4, 50.0),
    "e": (300, 1, 10.0),
}


@pytest.fixture(scope="module")
async def profile(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> AsyncIterator[ProfileUnderTest]:
    """Profile holding the population above, its job worker polling once an hour: what runs is woken."""
    started = await start_profile(nc, nats_server, postgres, stack_dir / "logs", PROFILE_JOB_POLL="1h")
    for person, (recency, orders, revenue) in POPULATION.items():
        each = revenue / orders
        await started.feed.events(person, *(order(ago(recency + i), each) for i in range(orders)))
    await started.feed.events("c", event(ago(5), order_refunded=ev.OrderRefunded(order_id="x", amount=usd(100))))
    await started.feed.events("browser", event(ago(1), page_viewed=ev.PageViewed(name="home")))
    await started.caught_up()
    yield started
    await stop_profile(started)


async def rfm_of(profile: ProfileUnderTest) -> dict[str, pb.Rfm]:
    reply = await profile.api.BatchGetProfiles(pb.BatchGetProfilesRequest(person_ids=[*POPULATION, "browser"]))
    return {p.person_id: p.value.rfm for p in reply.profiles}


async def test_recompute_scores_every_purchaser_by_quintile_with_ties_sharing_a_score(
    profile: ProfileUnderTest,
) -> None:
    reply = await profile.api.RecomputeRfm(pb.RecomputeRfmRequest())
    rfm = await rfm_of(profile)

    assert reply.purchasers == 5
    assert reply.computed_at.ToDatetime(tzinfo=NOW.tzinfo) == NOW
    assert {p: (r.r, r.f, r.m) for p, r in rfm.items() if p != "browser"} == {
        "a": (5, 5, 5), "b": (3, 1, 2), "c": (3, 3, 4), "d": (2, 4, 3), "e": (1, 1, 1),
    }  # fmt: skip
    assert {p: r.segment for p, r in rfm.items() if p != "browser"} == {
        "a": S.RFM_SEGMENT_CHAMPIONS, "b": S.RFM_SEGMENT_NEED_ATTENTION, "c": S.RFM_SEGMENT_NEED_ATTENTION,
        "d": S.RFM_SEGMENT_AT_RISK, "e": S.RFM_SEGMENT_LOST,
    }  # fmt: skip
    assert (rfm["c"].recency_days, rfm["c"].frequency, rfm["c"].monetary) == (10, 3, 200.0)
    assert not rfm["browser"].r  # not a purchaser: no scores


async def test_a_recompute_with_nothing_new_changes_nobody_and_a_new_order_changes_scores(
    profile: ProfileUnderTest,
) -> None:
    await profile.api.RecomputeRfm(pb.RecomputeRfmRequest())
    again = await profile.api.RecomputeRfm(pb.RecomputeRfmRequest())
    assert again.changed == 0

    await profile.feed.events("e", order(ago(0.5), 1000.0))
    await profile.caught_up()
    after = await profile.api.RecomputeRfm(pb.RecomputeRfmRequest())
    rfm = await rfm_of(profile)

    assert after.changed >= 1
    assert (rfm["e"].recency_days, rfm["e"].frequency, rfm["e"].r, rfm["e"].m) == (0, 2, 5, 5)


async def test_high_value_tags_the_top_fifth_by_90_day_revenue(profile: ProfileUnderTest) -> None:
    await profile.api.RecomputeRfm(pb.RecomputeRfmRequest())
    reply = await profile.api.BatchGetProfiles(pb.BatchGetProfilesRequest(person_ids=list(POPULATION)))

    high = sorted(p.person_id for p in reply.profiles if any(t.name == "high_value" for t in p.tags))
    # 90-day revenue: e 1000 (if the previous test ran), a 500, c 300, b 20; d's and e's old orders
    # are older than 90 days. The top fifth of those with some is the single best.
    assert high == [max(reply.profiles, key=lambda p: p.value.revenue_90d).person_id]


async def test_the_scheduled_job_when_due_is_claimed_and_run_by_the_worker(profile: ProfileUnderTest) -> None:
    await profile.pool.execute("DELETE FROM rfm_scores")
    await profile.pool.execute("UPDATE scheduled_jobs SET due_at = '-infinity' WHERE queue = 'rfm'")

    async def has_run() -> bool:
        return bool(await profile.pool.fetchval("SELECT due_at > $1 FROM scheduled_jobs WHERE queue = 'rfm'", NOW))

    await wait_until(has_run)  # woken by the row's NOTIFY: no poll is involved

    due = await profile.pool.fetchval("SELECT due_at FROM scheduled_jobs WHERE queue = 'rfm'")
    assert due == NOW + timedelta(days=1)  # PROFILE_RFM_INTERVAL's default, counted from the run
    rfm = await rfm_of(profile)
    assert all(rfm[p].r and rfm[p].computed_at.ToDatetime(tzinfo=NOW.tzinfo) == NOW for p in POPULATION)
