"""RFM on real data: the CDNOW purchase log replayed as orders, checked against pandas.

../shared/data/cdnow/CDNOW_master.txt (see its README): 69,659 purchases of 23,570
customers, 1997-01-01 to 1998-06-30. Every purchase becomes an OrderCompleted event of
person cdnow-<customer>; the profile's clock is pinned to 1998-07-01. The expected values
are computed independently with pandas: recency in whole days, frequency = purchases,
monetary = dollars, and scores = 1 + floor(5 * (rank(method="min") - 1) / n).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from bullseye.identity.v1 import resolved_pb2 as rs
from bullseye.profile.v1 import profile_pb2 as pb
from bullseye_devtools.stack import NatsServer, PostgresServer
from bullseye_platform.eventlog import LogMessage, LogWriter, partition_of, subject_for
from nats.aio.client import Client as NATS

from tests.profile.support import PARTITIONS, ProfileUnderTest, order, start_profile, stop_profile

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "cdnow" / "CDNOW_master.txt"
AS_OF = datetime(1998, 7, 1, tzinfo=UTC)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.exists(), reason=f"CDNOW data absent: expected {DATA} (see ARCHITECTURE.md, data)"),
]


def purchases() -> pd.DataFrame:
    frame = pd.read_csv(DATA, sep=r"\s+", dtype={"customer_id": str, "date": str})
    frame["when"] = pd.to_datetime(frame["date"], format="%Y%m%d", utc=True)
    frame["cents"] = (frame["dollar_value"] * 100).round().astype("int64")
    return frame


def expected_rfm(frame: pd.DataFrame) -> pd.DataFrame:
    """The reference computation, independent of the service's SQL."""
    per = frame.groupby("customer_id").agg(last=("when", "max"), frequency=("when", "size"), cents=("cents", "sum"))
    per["recency_days"] = (pd.Timestamp(AS_OF) - per["last"]).dt.days
    n = len(per)

    def score(values: pd.Series, *, higher_is_better: bool) -> pd.Series:
        worse = (values if higher_is_better else -values).rank(method="min") - 1
        return (1 + (5 * worse) // n).astype(int)

    per["r"] = score(per["recency_days"], higher_is_better=False)
    per["f"] = score(per["frequency"], higher_is_better=True)
    per["m"] = score(per["cents"], higher_is_better=True)
    return per


async def replay(nc: NATS, profile: ProfileUnderTest, frame: pd.DataFrame) -> None:
    writer = LogWriter(nc, max_batch=1000)
    messages, ends = [], profile.feed.ends
    for index, row in enumerate(frame.itertuples()):
        person = f"cdnow-{row.customer_id}"
        purchase = order(row.when.to_pydatetime(), float(row.dollar_value), event_id=f"cdnow-{index:06d}")
        record = rs.ResolvedRecord(event=rs.ResolvedEvent(person_id=person, event=purchase))
        partition = partition_of(person, PARTITIONS)
        messages.append(
            LogMessage(subject=subject_for(profile.feed.spec.subject_prefix, partition, "order_completed"),
                       payload=record.SerializeToString(), msg_id=purchase.event_id)
        )  # fmt: skip
        ends[partition] = len(messages)  # placeholder, replaced by the real sequences below
    appended = await writer.append(messages)
    await writer.close()
    ends.clear()
    for message, where in zip(messages, appended, strict=True):
        partition = int(message.subject.split(".")[1])
        ends[partition] = max(ends.get(partition, 0), where.seq)


@pytest.fixture(scope="module")
async def profile(
    nc: NATS, nats_server: NatsServer, postgres: PostgresServer, stack_dir: Path
) -> AsyncIterator[ProfileUnderTest]:
    started = await start_profile(nc, nats_server, postgres, stack_dir / "logs", fixed_now=AS_OF)
    yield started
    await stop_profile(started)


async def fetch_rfm(profile: ProfileUnderTest, people: list[str]) -> dict[str, pb.Rfm]:
    slots = asyncio.Semaphore(4)

    async def batch(ids: list[str]) -> list[pb.Profile]:
        async with slots:
            reply = await profile.api.BatchGetProfiles(pb.BatchGetProfilesRequest(person_ids=ids), timeout=60)
            assert not reply.missing_person_ids
            return list(reply.profiles)

    batches = await asyncio.gather(*(batch(people[i : i + 100]) for i in range(0, len(people), 100)))
    return {p.person_id: p.value.rfm for profiles in batches for p in profiles}


async def test_cdnow_rfm_values_and_quintiles_match_an_independent_pandas_computation(
    nc: NATS, profile: ProfileUnderTest
) -> None:
    frame = purchases()
    expected = expected_rfm(frame)
    await replay(nc, profile, frame)
    await profile.caught_up(within=300)

    reply = await profile.api.RecomputeRfm(pb.RecomputeRfmRequest(), timeout=120)
    rfm = await fetch_rfm(profile, [f"cdnow-{c}" for c in expected.index])

    assert reply.purchasers == len(expected) == 23570
    got = pd.DataFrame(
        [(pid.removeprefix("cdnow-"), r.recency_days, r.frequency, round(r.monetary * 100), r.r, r.f, r.m)
         for pid, r in rfm.items()],
        columns=["customer_id", "recency_days", "frequency", "cents", "r", "f", "m"],
    ).set_index("customer_id").sort_index()  # fmt: skip
    want = expected[["recency_days", "frequency", "cents", "r", "f", "m"]].sort_index()
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert sorted(want["r"].unique()) == [1, 2, 3, 4, 5]  # the check covers every score
